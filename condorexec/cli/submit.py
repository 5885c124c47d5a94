"""``condorexec submit``: condor_submit's command line, on HTCondor or on the embedded local pool.

On HTCondor it does what condor_submit does: queue the cluster and return. A pool whose jobs live
in this process (``PoolProfile.in_process``: the local pool) would lose them at exit, so then it
runs the jobs in the foreground until they have all left the queue (see
:mod:`condorexec.cli.foreground`). The description is always expanded offline first
(:mod:`condorexec.submit`): that is the ``-dry-run`` output and the ``-maxjobs`` count; then the pool checks
what it cannot honour (``Pool.prepare``), all before anything is queued.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import TextIO

import classad2

from condorexec.cli import foreground, learned, spoolopts
from condorexec.cli.options import CondorArgumentParser, UsageError, add_pool_options, backend, state_dir
from condorexec.cli.submitfile import STDIN_NAME, assemble, locate, read_description
from condorexec.condorfacts import JobStatus, job_constraint
from condorexec.pools.base import Pool
from condorexec.pools.local import spool as localspool
from condorexec.pools.local import spooling
from condorexec.pools.select import open_pool
from condorexec.render import CONTROL_CHARACTERS
from condorexec.submit import (
    JobPlan,
    MaxJobsExceeded,
    SubmitDescriptionError,
    ads_to_check,
    dry_run_blocks,
    job_ad_text,
    plan_jobs,
    wants_factory,
)
from condorexec.submit.cluster import MULTI_QUEUE_DEPRECATED, Submission, read_submission
from condorexec.submit.commands import (
    obsolete_memory_requirement,
    unused_lines,
    unused_queue_variables,
    warning_for_item,
    warning_for_line,
)
from condorexec.submit.queue import loop_variables

DRY_RUN_CLUSTER = 1


def parser() -> CondorArgumentParser:
    p = CondorArgumentParser("condorexec submit", "Submit jobs like condor_submit (what each pool does with each "
                                                 "submit command: the 'From condor_submit' page of the documentation).")
    p.add_argument("args", nargs="*", metavar="[var=value ...] [submit-file]",
                   help="a submit file ('-' or none: stdin) and var=value macro definitions")
    p.add_option("file", metavar="FILE", help="the submit file (instead of a positional one)")
    p.add_option("append", "-a", action="append", default=[], metavar="COMMAND",
                 help="a submit command placed just before the queue statement (repeatable)")
    p.add_option("batch-name", dest="batch_name", metavar="NAME", help="JobBatchName of the jobs")
    p.add_option("dry-run", dest="dry_run", metavar="FILE",
                 help="write the job ads to FILE ('-': stdout); queue nothing")
    p.add_option("terse", action="store_true", help="print only the job id range, C.P - C.P")
    p.add_option("verbose", action="store_true", help="print each job's ad")
    p.add_option("factory", "-fa", "-generator", action="store_true",
                 help="submit a late-materialization factory even without max_materialize or max_idle")
    p.add_option("maxjobs", type=int, metavar="N", help="refuse to submit more than N jobs")
    p.add_option("single-cluster", dest="single_cluster", action="store_true",
                 help="accepted for compatibility: condorexec always submits one cluster")
    spoolopts.add_options(p)
    add_pool_options(p)
    p.add_option("local-node", dest="local_nodes", action="append", default=[], metavar="SPEC",
                 help="local pool: emulate a node 'cpus=N,memory=MB[,disk=MB][,gpus=N][,name=X]' (repeatable)")
    p.add_option("label-store", dest="label_store", metavar="PATH", help="autolabel's SQLite store")
    p.epilog = "-queue QUEUE-ARGS must come last: everything after it is the queue statement."
    return p


def _split_queue(argv: list[str]) -> tuple[list[str], str | None]:
    for i, arg in enumerate(argv):
        if arg in ("-queue", "--queue"):
            rest = " ".join(argv[i + 1:]).strip()
            if not rest:
                raise UsageError("-queue needs queue arguments (e.g. -queue 3)", parser().format_usage())
            return argv[:i], rest
    return argv, None


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    argv, queue_args = _split_queue(list(argv))
    # condor_submit takes var=value anywhere on its line (DAGMan puts some after the -a options)
    args = parser().parse_intermixed_args(argv)
    args.spool = spoolopts.resolve(args)  # -remote NAME: -spool -name NAME
    variables: dict[str, str] = {}
    files: list[str] = []
    for a in args.args:
        name, eq, value = a.partition("=")
        if eq and name.strip() and not os.path.exists(a):
            variables[name.strip()] = value.strip()
        else:
            files.append(a)
    if args.file:
        files.append(args.file)
    if len(files) > 1:
        raise UsageError(f"only one submit file may be given, got {' '.join(files)}", parser().format_usage())
    path = files[0] if files else None
    text, name = read_description(path)
    try:
        text = assemble(text, name, args.append, queue_args)
        submission = read_submission(text, file=name, variables=variables, submit_dir=os.getcwd(),
                                     factory=args.factory, from_stdin=name == STDIN_NAME)
        if submission.statements > 1:
            print(f"WARNING: {name}: {MULTI_QUEUE_DEPRECATED}", file=err)
        _warn_unused(submission, err)
        if args.batch_name:
            if any(c in CONTROL_CHARACTERS for c in args.batch_name):  # a newline would start a new submit line
                raise SubmitDescriptionError(f"-batch-name {args.batch_name!r} contains a newline or control character")
            submission.description["batch_name"] = args.batch_name
        plan = _plan(submission, name, max_jobs=args.maxjobs, force_factory=args.factory)
        if args.factory and not wants_factory(submission.description):
            # what condor_submit -factory hands the schedd: JobMaterializeLimit = every proc
            submission.description["max_materialize"] = str(plan.count)
        if args.dry_run:
            if args.spool:  # the ads as condor_submit -spool makes them (it queues them held)
                plan = JobPlan(plan.count, (spooling.as_submitted(ad) for ad in plan.ads))
            return _dry_run(args, plan, out)
        logs: set[str] = set()
        # every different proc (a factory: the first) is made, and so checked, before anything is queued
        for ad in ads_to_check(plan):
            if "UserLog" in ad:
                logs.add(ad["UserLog"])
    except MaxJobsExceeded as exc:
        print(f"ERROR: {exc}", file=err)
        return 1
    except SubmitDescriptionError as exc:
        raise locate(exc, text, name) from exc
    for log in sorted(logs):
        problem = _unwritable(log)
        if problem:  # condor_submit's check, before anything is queued
            print(f'ERROR: Invalid log file: "{log}" ({problem})', file=err)
            return 1
    return _submit(args, submission, plan, name, out, err)


def _warn_unused(submission: Submission, err: TextIO) -> None:
    """condor_submit's warnings about the file: a Memory test in requirements, a line nothing reads (a
    typo), a queue variable no value uses."""
    memory = obsolete_memory_requirement(submission.description)
    if memory:
        print(memory, file=err)
    for key, value in unused_lines(submission.description):
        print(warning_for_line(key, value), file=err)
    if submission.itemdata is None:
        for variable in unused_queue_variables(submission.description,
                                               loop_variables(submission.description.getQArgs() or "")):
            print(warning_for_item(variable), file=err)


def _unwritable(path: str) -> str | None:
    """Why a job event log at ``path`` could not be written, or None."""
    target = path if os.path.exists(path) else os.path.dirname(path) or "."
    if not os.path.exists(target):
        return "No such file or directory"
    if os.path.isdir(path):
        return "Is a directory"
    if not os.access(target, os.W_OK):
        return "Permission denied"
    return None


def _plan(submission: Submission, name: str, cluster: int = DRY_RUN_CLUSTER,
          max_jobs: int | None = None, force_factory: bool = False) -> JobPlan:
    plan = plan_jobs(submission.description, itemdata=submission.itemdata, cluster_id=cluster,
                     submit_dir=os.getcwd(), owner=getpass.getuser(), qdate=int(time.time()), max_jobs=max_jobs,
                     force_factory=force_factory)
    if name == STDIN_NAME:
        return plan

    def named(ads: Iterator[classad2.ClassAd]) -> Iterator[classad2.ClassAd]:
        for ad in ads:
            ad["JobSubmitFile"] = name
            yield ad

    distinct = None if plan.distinct is None else named(plan.distinct)
    return JobPlan(plan.count, named(plan.ads), distinct, plan.factory)


def _dry_run(args, plan: JobPlan, out: TextIO) -> int:
    """condor_submit -dry-run's output, written proc by proc as the ads are made. Owner is ``undefined``
    there, as condor_submit writes it (the schedd sets it from the authenticated user on a real submit)."""
    plan = JobPlan(plan.count, _without_owner(plan.ads), plan.distinct, plan.factory)
    if plan.factory is not None:
        return _dry_run_factory(args, plan, out)
    if args.dry_run == "-":
        # condor_submit's progress dot goes to the same stdout as the ads, one after each proc's block
        out.write("" if args.terse else "Dry-Run job(s)")
        for block in dry_run_blocks(plan.ads):
            out.write(block if args.terse else block + ".")
        if not args.terse:
            out.write("\n")
    else:
        if not args.terse:
            out.write("Dry-Run job(s)" + "." * plan.count + "\n")
        with open(args.dry_run, "w", encoding="utf-8") as fh:
            fh.writelines(dry_run_blocks(plan.ads))
            if not plan.count:
                fh.write("\n")
    if args.terse:
        out.write(_range(DRY_RUN_CLUSTER, 0, plan.count) + "\n")
    else:
        out.write(f"{plan.count} job(s) dry-run to cluster {DRY_RUN_CLUSTER}.\n")
    return 0


def _without_owner(ads: Iterator[classad2.ClassAd]) -> Iterator[classad2.ClassAd]:
    for ad in ads:
        ad["Owner"] = classad2.ExprTree("undefined")
        yield ad


def _dry_run_factory(args, plan: JobPlan, out: TextIO) -> int:
    """condor_submit -dry-run of a factory: it sends the schedd only the cluster ad (proc 0's values,
    without ProcId and JobStatus: no proc exists yet), so that is all it prints, after a blank line; no
    dot per proc. The limit is not in it: the schedd is told it apart (set_Factory)."""
    first = next(plan.ads, None)
    lines = job_ad_text(first).splitlines() if first is not None else []
    block = "".join(line + "\n" for line in lines if line.partition("=")[0] not in ("ProcId", "JobStatus"))
    if not args.terse:
        out.write("Dry-Run job(s)")
    if args.dry_run == "-":
        out.write("\n" + block)
    else:
        with open(args.dry_run, "w", encoding="utf-8") as fh:
            fh.write("\n" + block)
    if args.terse:
        out.write(_range(DRY_RUN_CLUSTER, 0, plan.count) + "\n")
    else:
        out.write(f"\n{plan.count} job(s) dry-run to cluster {DRY_RUN_CLUSTER}.\n")
    return 0


def _range(cluster: int, first: int, count: int) -> str:
    return f"{cluster}.{first} - {cluster}.{first + max(count, 1) - 1}"


def _make_pool(args) -> tuple[Pool, str]:
    """The pool the options choose; each pool takes its own options and leaves the other's."""
    return open_pool(backend(args), schedd=args.name, collector=args.pool, state_dir=str(state_dir(args.state_dir)),
                     nodes=args.local_nodes or None)


def _submit(args, submission: Submission, plan: JobPlan, name: str, out: TextIO, err: TextIO) -> int:
    description = submission.description
    pool, reason = _make_pool(args)
    logging.getLogger(__name__).debug("pool: %s", reason)
    store = None
    try:
        category = learned.category_of(description)
        if category is not None:
            store = learned.open_store(args.label_store)
            learned.learn(pool, store)  # whatever finished since the last run
            learned.apply_label(submission, category, store, pool, err)
        errors, warnings = pool.prepare(description, os.getcwd(), itemdata=submission.itemdata)
        errors += spoolopts.problems(description) if args.spool else []
        for w in warnings:
            print(f"WARNING: {name}: {w}", file=err)
        if errors:
            for e in errors:
                print(f"ERROR: {name}: {e}", file=err)
            return 1
        result = pool.submit(description, itemdata=submission.itemdata, spool=args.spool)
        _report_submit(args, pool, result, out, factory=plan.factory is not None)
        if not pool.profile.in_process:
            return 0
        status = _run_locally(pool, result, state_dir(args.state_dir), err)
        if args.spool:
            print(spoolopts.local_note(result.cluster), file=err)
        if store is not None:
            learned.learn(pool, store)
        return status
    finally:
        pool.close()
        if store is not None:
            store.close()


def _report_submit(args, pool: Pool, result, out: TextIO, *, factory: bool = False) -> None:
    """condor_submit's lines: a dot per proc queued, none for a factory (it queues no proc itself)."""
    if args.terse:
        out.write(_range(result.cluster, result.first_proc, result.num_procs) + "\n")
    else:
        out.write("Submitting job(s)" + ("" if factory else "." * result.num_procs) + "\n")
        if args.verbose:
            for ad in pool.query(job_constraint(str(result.cluster))):
                out.write(f"** Proc {ad['ClusterId']}.{ad['ProcId']}:\n{job_ad_text(ad)}\n")
        out.write(f"{result.num_procs} job(s) submitted to cluster {result.cluster}.\n")
    out.flush()


def _run_locally(pool: Pool, result, where, err: TextIO) -> int:
    outcome = foreground.run_foreground(pool, result.cluster, result.num_procs, where, err)
    status = 0
    for ad in outcome.held:
        print(f"HELD: job {ad['ClusterId']}.{ad['ProcId']} (HoldReasonCode {ad.get('HoldReasonCode')}, "
              f"HoldReasonSubCode {ad.get('HoldReasonSubCode')}): {ad.get('HoldReason')}", file=err)
        status = 1
    if outcome.removed_by_request or outcome.factory_removed:
        print(f"removed by condorexec rm: {' '.join(outcome.removed_by_request) or f'cluster {result.cluster}'}",
              file=err)
        status = 1
    if outcome.unmaterialized:
        # on a schedd they would wait for a condor_release (or for ever, with max_idle = 0)
        if outcome.removed_by_request or outcome.factory_removed or outcome.interrupted:
            why = "the cluster was removed"
        elif outcome.held:
            why = "held jobs fill its max_materialize/max_idle limit"
        else:
            why = "its max_idle lets no more be made"
        print(f"note: {outcome.unmaterialized} proc(s) of cluster {result.cluster} were never materialized: {why}",
              file=err)
        status = 1
    if outcome.interrupted:
        print(f"interrupted: the jobs of cluster {result.cluster} were removed", file=err)
        return 128 + outcome.signal  # the shell's convention: 130 for Ctrl-C, 143 for SIGTERM
    failed = f"{job_constraint(str(result.cluster))} && JobStatus == {int(JobStatus.COMPLETED)} && ExitCode =!= 0"
    bad = [f"{ad['ClusterId']}.{ad['ProcId']}={ad.get('ExitCode')}" for ad in
           pool.history(failed, ["ClusterId", "ProcId", "ExitCode"])]
    if bad:
        print(f"note: {len(bad)} job(s) exited with a non-zero status: {' '.join(sorted(bad))}", file=err)
    localspool.clean_stale(where)
    return status
