
ClusterId=1
In="/dev/null"
Cmd="/bin/echo"
Err="/dev/null"
Iwd="@IWD@"
Out="/dev/null"
Args="prep 0"
Rank=0.0
Owner=undefined
QDate=1796417249
Stage="prepare"
MyType="Job"
Weight=1
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
JobSubmitFile="c29-multi-queue-changes.sub"
RemoteUserCpu=0.0
RequestMemory=100
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
EnteredCurrentStatus=1796417249
WhenToTransferOutput="ON_EXIT"
CumulativeRemoteSysCpu=0.0
CommittedSuspensionTime=0
CumulativeRemoteUserCpu=0.0
CumulativeSuspensionTime=0
ProcId=0
JobStatus=1

ProcId=1
JobStatus=1
Cmd="@IWD@/run.sh"
Args="run alpha 0"
Stage="run"
Weight=1 * 10
RequestCpus=2
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300

ProcId=2
JobStatus=1
Cmd="@IWD@/run.sh"
Args="run alpha 1"
Stage="run"
Weight=2 * 10
RequestCpus=2
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300

ProcId=3
JobStatus=1
Cmd="@IWD@/run.sh"
Args="run beta 0"
Stage="run"
Weight=3 * 10
RequestCpus=2
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300

ProcId=4
JobStatus=1
Cmd="@IWD@/run.sh"
Args="run beta 1"
Stage="run"
Weight=4 * 10
RequestCpus=2
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300

ProcId=5
JobStatus=1
Cmd="@IWD@/run.sh"
Args="alpha 1 row 0"
Stage="collect"
Weight=5 * 10
RequestCpus=2
RequestDisk=2097152
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300

ProcId=6
JobStatus=1
Cmd="@IWD@/run.sh"
Args="# a comment row 1"
Stage="collect"
Weight=6 * 10
RequestCpus=2
RequestDisk=2097152
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300

ProcId=7
JobStatus=1
Cmd="@IWD@/run.sh"
Args="# a comment row 2"
Stage="collect"
Weight=7 * 10
RequestCpus=2
RequestDisk=2097152
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300

ProcId=8
JobStatus=1
Cmd="@IWD@/run.sh"
Args="beta 2 row 3"
Stage="collect"
Weight=8 * 10
RequestCpus=2
RequestDisk=2097152
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300

ProcId=9
JobStatus=1
Cmd="@IWD@/run.sh"
Args="gamma 3 row 4"
Stage="collect"
Weight=9 * 10
RequestCpus=2
RequestDisk=2097152
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300

ProcId=10
JobStatus=1
Cmd="@IWD@/run.sh"
Args="delta 4 row 5"
Stage="collect"
Weight=10 * 10
RequestCpus=2
RequestDisk=2097152
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300

ProcId=11
JobStatus=1
Args="inputs/one.txt i=0"
Stage="collect"
Weight=11 * 10
DiskUsage=44
RequestCpus=2
RequestDisk=2097152
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300
TransferInput="inputs/one.txt"

ProcId=12
JobStatus=1
Args="inputs/two.txt i=1"
Stage="collect"
Weight=12 * 10
DiskUsage=44
RequestCpus=2
RequestDisk=2097152
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300
TransferInput="inputs/two.txt"

ProcId=13
JobStatus=1
Args="<Queue_item> i=0"
Stage="last"
Weight=13 * 10
RequestCpus=2
RequestDisk=2097152
Requirements=(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (versionGE(split(TARGET.CondorVersion)[1],"25.12.0") || (TARGET.Disk >= RequestDisk)) && (TARGET.Memory >= RequestMemory) && (TARGET.Cpus >= RequestCpus) && ((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))
RequestMemory=300
