; Hearth's Windows installer (NSIS 3, Unicode).
;
; Built from the PyInstaller one-folder build (dist\hearth, made by build.spec
; on Windows: hearth.exe, hearth-cli.exe, llama-server.exe and _internal\):
;
;   makensis /DSOURCE_DIR=..\..\dist\hearth /DVERSION=0.1.0 ^
;            /DOUT_FILE=..\..\dist\Hearth-0.1.0-setup.exe packaging\windows\hearth.nsi
;
; Paths given with /D are relative to this folder (makensis works from here).
; Installs for all users into Program Files with Start menu and desktop
; shortcuts and an entry in Settings > Apps. The uninstaller removes the
; program folder, shortcuts and registry keys only: chats, models and
; settings (in %LOCALAPPDATA%\Hearth) are the user's and stay.
; tests/test_installer_scripts.py builds it on Linux from a stand-in folder.

Unicode true
SetCompressor /SOLID lzma
ManifestDPIAware true

!ifndef SOURCE_DIR
  !error "pass /DSOURCE_DIR=<PyInstaller's dist\hearth folder>"
!endif
!ifndef VERSION
  !error "pass /DVERSION=<Hearth's version, e.g. 0.1.0>"
!endif
!ifndef OUT_FILE
  !define OUT_FILE "Hearth-${VERSION}-setup.exe"
!endif

!define APP_NAME "Hearth"
!define PUBLISHER "The Hearth authors"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Hearth"
!define APP_PATHS_KEY "Software\Microsoft\Windows\CurrentVersion\App Paths\hearth-cli.exe"

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"

Name "${APP_NAME}"
OutFile "${OUT_FILE}"
InstallDir "$PROGRAMFILES64\${APP_NAME}"
InstallDirRegKey HKLM "${UNINSTALL_KEY}" "InstallLocation"
RequestExecutionLevel admin
BrandingText "${APP_NAME} ${VERSION}"

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APP_NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APP_NAME} installer"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "LegalCopyright" "MIT licence; third-party licences in THIRD-PARTY-LICENSES"

!define MUI_ICON "hearth.ico"
!define MUI_UNICON "hearth.ico"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\hearth.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Start Hearth"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "Hearth needs 64-bit Windows."
    Abort
  ${EndIf}
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Function un.onInit
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Section "Hearth" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; An upgrade replaces the program folder whole: no stale libraries of an
  ; older build stay beside the new llama-server.
  ${If} ${FileExists} "$INSTDIR\hearth.exe"
    RMDir /r "$INSTDIR\_internal"
  ${EndIf}
  File /r "${SOURCE_DIR}\*.*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\hearth.exe" "" "$INSTDIR\hearth.exe" 0
  CreateShortcut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\hearth.exe" "" "$INSTDIR\hearth.exe" 0
  ; The command line: a prompt with hearth-cli on its PATH (PATH itself is
  ; left alone: NSIS strings would truncate a long one).
  CreateShortcut "$SMPROGRAMS\${APP_NAME} command prompt.lnk" "$SYSDIR\cmd.exe" \
    '/k "set PATH=$INSTDIR;%PATH%&& hearth-cli --help"' "$INSTDIR\hearth.exe" 0
  WriteRegStr HKLM "${APP_PATHS_KEY}" "" "$INSTDIR\hearth-cli.exe"
  WriteRegStr HKLM "${APP_PATHS_KEY}" "Path" "$INSTDIR"

  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\hearth.exe,0"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Uninstall"
  ; Only a folder that holds Hearth is removed (a mistyped install path must
  ; not become RMDir /r of someone's folder).
  ${If} ${FileExists} "$INSTDIR\hearth.exe"
    RMDir /r "$INSTDIR\_internal"
    Delete "$INSTDIR\hearth.exe"
    Delete "$INSTDIR\hearth-cli.exe"
    Delete "$INSTDIR\uninstall.exe"
    RMDir /r "$INSTDIR"
  ${EndIf}
  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  Delete "$SMPROGRAMS\${APP_NAME} command prompt.lnk"
  Delete "$DESKTOP\${APP_NAME}.lnk"
  DeleteRegKey HKLM "${APP_PATHS_KEY}"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
  ; %LOCALAPPDATA%\Hearth (chats, models, settings) is deliberately kept.
SectionEnd
