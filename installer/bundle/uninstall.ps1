<#
.SYNOPSIS
  Remove Zumen installed by install.ps1. Libraries, settings and adapted packs stay unless
  -RemoveLibraries is given (then the per-user default library, the sample and demo libraries
  and the desktop settings in HKCU\Software\Zumen go too; folders you chose yourself stay).

    powershell -ExecutionPolicy Bypass -File uninstall.ps1 [-Prefix DIR] [-RemoveLibraries]
#>
param(
    [string]$Prefix = "",
    [switch]$RemoveLibraries
)
$ErrorActionPreference = "Stop"
$Here = Split-Path -Parent $MyInvocation.MyCommand.Path
if (-not $Prefix) {
    if (Test-Path (Join-Path $Here "install.json")) { $Prefix = $Here }
    else { $Prefix = Join-Path $env:LOCALAPPDATA "Zumen\app" }
}
if (-not (Test-Path (Join-Path $Prefix "install.json"))) {
    Write-Host "uninstall: no Zumen installation in $Prefix (no install.json)"; exit 1
}
$bin = Join-Path $Prefix "bin"
$userPath = [Environment]::GetEnvironmentVariable("Path", "User")
if ($userPath) {
    [Environment]::SetEnvironmentVariable("Path", (($userPath -split ";") | Where-Object { $_ -and $_ -ne $bin }) -join ";", "User")
}
$lnk = Join-Path ([Environment]::GetFolderPath("Programs")) "Zumen.lnk"
if (Test-Path $lnk) { Remove-Item -Force $lnk }
Set-Location $env:TEMP  # the script may live inside $Prefix
Remove-Item -Recurse -Force $Prefix
Write-Host "uninstall: removed $Prefix"

$base = Join-Path $env:LOCALAPPDATA "Zumen"
$libraries = @($(if ($env:ZUMEN_LIBRARY) { $env:ZUMEN_LIBRARY } else { Join-Path $base "library" }),
               (Join-Path $base "sample-library"), (Join-Path $base "demo-library"))
foreach ($lib in $libraries) {
    if (Test-Path $lib) {
        if ($RemoveLibraries) { Remove-Item -Recurse -Force $lib; Write-Host "uninstall: removed $lib" }
        else { Write-Host "uninstall: kept $lib (remove it with -RemoveLibraries)" }
    }
}
if ($RemoveLibraries -and (Test-Path "HKCU:\Software\Zumen")) {
    Remove-Item -Recurse -Force "HKCU:\Software\Zumen"; Write-Host "uninstall: removed the desktop settings"
}
