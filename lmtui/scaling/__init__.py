"""Past one box: Slurm batch scripts and accelerate configs (:mod:`.slurm`), the per-node command they run (:mod:`.node`)."""
