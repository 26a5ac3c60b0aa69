# Run by `cmake --install` (deploy/install.cmake): writes CAIRN_UNIT_OUT, a
# copy of the unit CAIRN_UNIT_IN whose ExecStart names cairnd in the
# install's bindir, and installs it into CAIRN_UNIT_DIR. CMAKE_INSTALL_PREFIX
# is the one in force (`--prefix`); DESTDIR is added by file(INSTALL).
if(IS_ABSOLUTE "${CAIRN_UNIT_BINDIR}")
    set(bindir "${CAIRN_UNIT_BINDIR}")
else()
    set(bindir "${CMAKE_INSTALL_PREFIX}/${CAIRN_UNIT_BINDIR}")
endif()
if(IS_ABSOLUTE "${CAIRN_UNIT_DIR}")
    set(unit_dir "${CAIRN_UNIT_DIR}")
else()
    set(unit_dir "${CMAKE_INSTALL_PREFIX}/${CAIRN_UNIT_DIR}")
endif()
file(READ "${CAIRN_UNIT_IN}" unit)
string(REPLACE "\nExecStart=/usr/local/bin/cairnd " "\nExecStart=${bindir}/cairnd " installed "${unit}")
if(installed STREQUAL unit AND NOT bindir STREQUAL "/usr/local/bin")
    message(FATAL_ERROR "${CAIRN_UNIT_IN}: no line 'ExecStart=/usr/local/bin/cairnd ...' "
                        "to point at ${bindir}/cairnd; fix the unit or install_unit.cmake")
endif()
file(WRITE "${CAIRN_UNIT_OUT}" "${installed}")
file(INSTALL DESTINATION "${unit_dir}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${CAIRN_UNIT_OUT}")
