"""The local pool's job launcher: starts, measures, limits and kills job process trees.

Why a fork server: the local pool must sustain hundreds of short jobs per second on two cores.
Starting a fresh interpreter per Python job (and importing cloudpickle and the runner) costs tens
of milliseconds; forking a warm interpreter that already has them imported costs about one. The
caller cannot fork itself (it has threads, and forking a threaded process is unsafe), so a
dedicated single-threaded helper process, started with ``subprocess`` (fork+exec of a clean
interpreter), does all the forking and reaping. It talks to the caller over one socketpair with
length-prefixed pickles, and exits (killing its jobs) when that socket reaches EOF, i.e. when the
caller closes it or dies; forked copies of the caller close their inherited end at fork. A server
that dies while the launcher is open (a job killed it, or the OOM killer did) has its jobs reported
as SIGKILLed, and the next launch starts a new one.

Each job is one child of the server, leader of its own session and process group (``setsid``), so
that the whole tree can be killed at once, like HTCondor's starter kills a job's process family.
When a job's root process exits, whatever it left behind is killed too, and reaped by the server.

Measurement follows HTCondor: the parent samples each job's process tree with psutil (RSS summed
over the tree, as the starter's ProcFamily does) and the server reports ``wait4``'s rusage on exit;
the peak is the larger of the two. For exec jobs, ``ru_maxrss`` also counts the copy of the server
the child was before ``execve``; a value not above the server's own peak is therefore dropped (a
job too short to be sampled then reports 0, never the server's size). A job whose tree RSS goes
over its memory limit is SIGKILLed and reported with ``over_memory=True`` (the pool holds it 34/102).

Failure to start a job (missing or non-executable executable, sandbox missing, output file not
creatable, Python entry point not importable) raises :class:`LaunchError` from :meth:`Launcher.launch`:
the server learns of it through a close-on-exec pipe, as ``subprocess`` does. HTCondor holds such
jobs (code 6); no JobExit is reported for them.

Python jobs: the entry point's module is imported once in the server (so it must not start threads
at import) and called in the forked child with the job's argv; the server's environment is emptied

Each job's root is also a child subreaper, and the server one above it (:mod:`.family`): whatever the
job starts stays in its tree, even in another session or process group, so a removal, the root's
exit, :meth:`Launcher.close` and the caller's death (EOF on the socket) kill all of it, as HTCondor's
starter kills a job's process family. A job root that runs long (a category worker) therefore also
adopts its descendants' orphans and, until it waits for them, keeps them as zombies. Left out: a fork
server killed with SIGKILL cannot clean up; its job roots die with it (``PR_SET_PDEATHSIG``) and the
caller kills their groups, but what they started in other groups is out of reach.

One module per process: :mod:`.caller` (the :class:`Launcher` in the pool's process),
:mod:`.forkserver` (the server), :mod:`.jobchild` (each job's process up to exec or the entry
point); :mod:`.messages` holds what they say to each other as named types, :mod:`.measure` how
jobs are measured and :mod:`.family` how a job's processes are found and killed.
"""

from __future__ import annotations

from condorexec.pools.local.launcher.caller import Launcher
from condorexec.pools.local.launcher.measure import sandbox_disk_kib
from condorexec.pools.local.launcher.messages import JobExit, LaunchError, LaunchRequest

__all__ = ["JobExit", "LaunchError", "LaunchRequest", "Launcher", "sandbox_disk_kib"]
