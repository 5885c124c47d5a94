"""The submit language: a submit description → per-proc job ClassAds, as ``condor_submit`` builds them.

Why this exists: ``htcondor2.Submit`` parses the submit language (macros, queue statements) but its
``jobs()`` is not implemented, so the step *submit commands → job-ad attributes* is ours. Two parts
of condorexec need it: the embedded local pool (it gets what ``Schedd.submit`` gets and must create
the ads a schedd would) and the ``condorexec submit -dry-run`` CLI (which must print what
``condor_submit -dry-run`` prints). The rules follow HTCondor 25.x ``submit_utils.cpp`` and are
checked against real ``condor_submit -dry-run`` output (tests/unit/test_submitdesc.py).

The modules, in the order a file goes through them:

- :mod:`~condorexec.submit.guard`: the forms that would run a command, refused before anything parses;
- :mod:`~condorexec.submit.queue`: queue statements (where they are, the items and counts they ask for);
- :mod:`~condorexec.submit.parse`: text → ``htcondor2.Submit`` by the real parser, with line-numbered checks;
- :mod:`~condorexec.submit.cluster`: a file with several queue statements → one description + item rows;
- :mod:`~condorexec.submit.expand`: macro expansion per proc, memoised on what each key can reach;
- :mod:`~condorexec.submit.values`, :mod:`~condorexec.submit.argsenv`: command values → ClassAd text;
- :mod:`~condorexec.submit.jobad`: one proc's ad, group by group; :mod:`~condorexec.submit.universes`: what
  the universe decides; :mod:`~condorexec.submit.factory`: late materialization;
- :mod:`~condorexec.submit.commands`: the commands condor_submit knows, and the lines nothing uses (typos);
- :mod:`~condorexec.submit.jobs`: the plan (count, then ads streamed); :mod:`~condorexec.submit.dryrun`:
  ``-dry-run``'s text.

Names with a leading underscore are private to this package, not to their module. Nothing here runs a
command: :mod:`condorexec.submit.guard` refuses every form that would, first.
"""

from condorexec.errors import MaxJobsExceeded, SubmitDescriptionError
from condorexec.submit.argsenv import ad_arguments, ad_environment
from condorexec.submit.cluster import Submission, read_submission
from condorexec.submit.dryrun import dry_run_blocks, dry_run_text, job_ad_text
from condorexec.submit.factory import MAX_IDLE_KEYS, MAX_MATERIALIZE_KEYS, Factory, factory_of
from condorexec.submit.jobs import JobPlan, ads_to_check, expand_jobs, plan_jobs, statement_rows, wants_factory
from condorexec.submit.parse import parse_checked, parse_description

__all__ = ["SubmitDescriptionError", "MaxJobsExceeded", "JobPlan", "Factory", "factory_of", "wants_factory",
           "MAX_MATERIALIZE_KEYS", "MAX_IDLE_KEYS", "ads_to_check", "parse_description", "parse_checked",
           "plan_jobs", "expand_jobs", "statement_rows", "job_ad_text", "dry_run_blocks", "dry_run_text",
           "ad_arguments", "ad_environment", "Submission", "read_submission"]
