"""Tests against a live HTCondor pool (marked ``condor``; run with ci/condor-tests.sh)."""
