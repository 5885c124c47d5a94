"""condorexec: run Parsl apps and condor_submit jobs on heterogeneous HTCondor pools, sized per call."""

__version__ = "0.1.0"
