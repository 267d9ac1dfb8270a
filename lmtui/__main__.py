from lmtui.cli import main

raise SystemExit(main())
