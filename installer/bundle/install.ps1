<#
.SYNOPSIS
  Zumen offline installer for Windows: installs from this bundle only and never uses the network.

.DESCRIPTION
  Run from the unpacked bundle folder (PowerShell 5.1 or 7):

    powershell -ExecutionPolicy Bypass -File .\install.ps1 [-Prefix DIR] [-Python PATH] [-NoShortcut] [-NoDoctor]

  -ExecutionPolicy Bypass applies to this one run only; the machine's policy is not changed.
  Needs a full CPython of the version in bundle.json ("python", e.g. 3.11) from python.org's
  Windows installer (the "embeddable" zip has no venv module and cannot be used). Install it
  first, for all users, from the installer file copied next to the bundle:
    python-3.11.x-amd64.exe /quiet InstallAllUsers=1 PrependPath=0 Include_launcher=1

  1. verifies every file against MANIFEST.sha256 and refuses files added to wheels\ or models\,
  2. creates (or reuses and repairs) a virtual environment in PREFIX\venv,
  3. pip install --isolated --no-index --find-links wheels\ (no network),
  4. copies the default model pack to PREFIX\venv\share\zumen\models\default,
  5. puts zumen.cmd / zumen-desktop.cmd in PREFIX\bin and adds that folder to the user's PATH,
     and adds a Start-menu shortcut "Zumen",
  6. runs `zumen doctor`.
  PREFIX defaults to %LOCALAPPDATA%\Zumen\app (per user). Libraries (%LOCALAPPDATA%\Zumen\library
  and any you chose), settings (registry HKCU\Software\Zumen) and adapted model packs (inside each
  library) are never touched; re-running repairs, a newer bundle upgrades.
  Exit codes: 0 installed and checked, 2 bundle damaged, 3 installed but doctor found a problem.
#>
param(
    [string]$Prefix = (Join-Path $env:LOCALAPPDATA "Zumen\app"),
    [string]$Python = "",
    [switch]$NoShortcut,
    [switch]$NoDoctor
)
$ErrorActionPreference = "Stop"
$Here = Split-Path -Parent $MyInvocation.MyCommand.Path
function Say($msg) { Write-Host "install: $msg" }
function Fail($code, $msg) { Write-Host "install: $msg" -ForegroundColor Red; exit $code }

# 1. Verify the bundle
$manifest = Join-Path $Here "MANIFEST.sha256"
if (-not (Test-Path $manifest)) { Fail 2 "MANIFEST.sha256 is missing: $Here is not a complete Zumen bundle." }
$listed = @{}
$bad = @()
foreach ($line in Get-Content -Encoding UTF8 $manifest) {
    if ($line.Length -lt 67) { continue }
    $hash = $line.Substring(0, 64); $rel = $line.Substring(66)
    $listed[$rel] = $true
    $file = Join-Path $Here ($rel -replace "/", "\")
    if (-not (Test-Path -LiteralPath $file)) { $bad += "${rel}: missing"; continue }
    $actual = (Get-FileHash -Algorithm SHA256 -LiteralPath $file).Hash.ToLower()
    if ($actual -ne $hash) { $bad += "${rel}: FAILED" }
}
if ($bad.Count) {
    Fail 2 ("the bundle is damaged or was changed after it was built:`n" + ($bad -join "`n") +
            "`nNothing was installed. Copy the bundle again from the original archive.")
}
# Nothing added where it would be installed (wheels\ for pip's --find-links, models\)
$extra = Get-ChildItem -Recurse -File (Join-Path $Here "wheels"), (Join-Path $Here "models") | ForEach-Object {
    $_.FullName.Substring($Here.Length + 1) -replace "\\", "/" } | Where-Object {
    $_ -ne "MANIFEST.sha256" -and -not $listed.ContainsKey($_) }
if ($extra) {
    Fail 2 ("the bundle holds files that MANIFEST.sha256 does not list:`n" + ($extra -join "`n") +
            "`nNothing was installed. Remove them or copy the bundle again from the original archive.")
}
Say "verified $($listed.Count) files"

# 2. Python of the bundle's version
$info = Get-Content -Raw -Encoding UTF8 (Join-Path $Here "bundle.json") | ConvertFrom-Json
if (-not $Python) {
    if (Get-Command py -ErrorAction SilentlyContinue) { $Python = "py"; $pyArgs = @("-$($info.python)") }
    else { $Python = "python"; $pyArgs = @() }
} else { $pyArgs = @() }
try { $have = & $Python @pyArgs -c "import sys; print('%d.%d' % sys.version_info[:2])" } catch { $have = "" }
if ($have -ne $info.python) {
    Fail 1 ("this bundle needs Python $($info.python) (found: '$have'). Install it from python.org's " +
            "Windows installer (not the embeddable zip), or pass -Python C:\path\to\python.exe")
}

# 3. Environment and packages
$venv = Join-Path $Prefix "venv"
$vpy = Join-Path $venv "Scripts\python.exe"
$pipArgs = @("--isolated", "--no-index", "--find-links", (Join-Path $Here "wheels"), "--only-binary=:all:",
             "--disable-pip-version-check", "--no-cache-dir", "--no-warn-script-location")
if ((Test-Path $vpy) -and ((& $vpy -c "import sys; print('%d.%d' % sys.version_info[:2])") -eq $info.python)) {
    Say "updating the installation in $Prefix (every package is reinstalled from the bundle)"
    $pipArgs += "--force-reinstall"
} else {
    if (Test-Path $venv) { Remove-Item -Recurse -Force $venv }
    New-Item -ItemType Directory -Force $Prefix | Out-Null
    & $Python @pyArgs -m venv $venv
    if ($LASTEXITCODE) { Fail 1 "could not create the environment $venv" }
}
& $vpy -m pip install -q --isolated --no-index --find-links (Join-Path $Here "wheels") --upgrade pip 2>$null | Out-Null
if (-not $info.dependencies_included) { $pipArgs += "--no-deps" }
Say "installing $($info.requirement) from the bundle (no network) ..."
& $vpy -m pip install -q @pipArgs $info.requirement
if ($LASTEXITCODE) { Fail 1 "pip could not install from the bundle (see above)." }

# 4. Model pack, swapped in whole
$pack = Join-Path $venv "share\zumen\models\default"
New-Item -ItemType Directory -Force (Split-Path $pack) | Out-Null
if (Test-Path "$pack.new") { Remove-Item -Recurse -Force "$pack.new" }
Copy-Item -Recurse (Join-Path $Here "models\default") "$pack.new"
if (Test-Path $pack) { Remove-Item -Recurse -Force $pack }
Rename-Item "$pack.new" (Split-Path -Leaf $pack)
Say "model pack installed in $pack"

# 5. Commands on PATH, Start-menu shortcut, uninstaller
$bin = Join-Path $Prefix "bin"
New-Item -ItemType Directory -Force $bin | Out-Null
Set-Content -Encoding ASCII (Join-Path $bin "zumen.cmd") "@`"$venv\Scripts\zumen.exe`" %*"
Set-Content -Encoding ASCII (Join-Path $bin "zumen-desktop.cmd") "@start `"`" `"$venv\Scripts\zumen-desktop.exe`" %*"
$userPath = [Environment]::GetEnvironmentVariable("Path", "User")
if (-not (($userPath -split ";") -contains $bin)) {
    [Environment]::SetEnvironmentVariable("Path", ($(if ($userPath) { "$userPath;" } else { "" }) + $bin), "User")
    Say "added $bin to your PATH (open a new terminal to use zumen)"
}
Copy-Item -Force (Join-Path $Here "uninstall.ps1") (Join-Path $Prefix "uninstall.ps1")
if (-not $NoShortcut) {
    $programs = [Environment]::GetFolderPath("Programs")
    $shell = New-Object -ComObject WScript.Shell
    $lnk = $shell.CreateShortcut((Join-Path $programs "Zumen.lnk"))
    $lnk.TargetPath = Join-Path $venv "Scripts\zumen-desktop.exe"
    $lnk.WorkingDirectory = $env:USERPROFILE
    $lnk.Description = "Zumen: drawing and document search"
    $lnk.Save()
    Say "Start-menu shortcut: $(Join-Path $programs 'Zumen.lnk')"
}
@{ version = $info.version; bin_dir = $bin; installed = (Get-Date).ToUniversalTime().ToString("s") + "Z" } |
    ConvertTo-Json | Set-Content -Encoding UTF8 (Join-Path $Prefix "install.json")

# 6. Check
if (-not $NoDoctor) {
    Say "checking the installation (zumen doctor) ..."
    & (Join-Path $venv "Scripts\zumen.exe") doctor
    if ($LASTEXITCODE) { Fail 3 "Zumen $($info.version) is installed, but the checks above found problems; each says how to fix it." }
}
Say "done: Zumen $($info.version) in $Prefix. Try: zumen demo   or the Start-menu entry Zumen"
