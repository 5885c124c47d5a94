
ClusterId=1
In="/dev/null"
Cmd="/bin/echo"
Err="/dev/null"
Iwd="@IWD@"
Out="/dev/null"
Args="first p=0 s=0 r=0"
Rank=0.0
Owner=undefined
QDate=1796417182
MyType="Job"
JobPrio=0
MaxHosts=1
MinHosts=1
NumCkpts=0
DiskUsage=43
ImageSize=43
ExitStatus=0
TargetType="Machine"
TransferIn=false
Environment=""
JobUniverse=5
NumRestarts=0
RequestCpus=1
RequestDisk=MAX({ 1024,(TransferInputSizeMB + 1) * 1.25 }) * 1024
TransferErr=false
TransferOut=false
CurrentHosts=0
ExitBySignal=false
NumJobStarts=0
RemoteSysCpu=0.0
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
CommittedTime=0
CondorVersion="$CondorVersion: 25.14.0 2026-11-26 PRE-RELEASE-UWCS $"
JobSubmitFile="c28-multi-queue.sub"
RemoteUserCpu=0.0
RequestMemory=128
SubmitVersion="$CondorVersion: 25.14.0 2026-11-26 PRE-RELEASE-UWCS $"
CondorPlatform="$CondorPlatform: X86_64-Debian_12 $"
ExecutableSize=43
NumSystemHolds=0
JobNotification=0
JobSubmitMethod=0
LeaveJobInQueue=false
FileSystemDomain="vm"
JobLeaseDuration=2400
TotalSuspensions=0
CommittedSlotTime=0
NumJobCompletions=0
CumulativeSlotTime=0
LastSuspensionTime=0
RemoteWallClockTime=0.0
ShouldTransferFiles="IF_NEEDED"
TransferInputSizeMB=1
EnteredCurrentStatus=1796417182
WhenToTransferOutput="ON_EXIT"
CumulativeRemoteSysCpu=0.0
CommittedSuspensionTime=0
CumulativeRemoteUserCpu=0.0
CumulativeSuspensionTime=0
ProcId=0
JobStatus=1

ProcId=1
JobStatus=1
Args="second p=1 s=0 r=0"

ProcId=2
JobStatus=1
Args="second p=2 s=1 r=0"
