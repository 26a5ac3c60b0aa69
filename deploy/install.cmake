# `cmake --install BUILD [--prefix DIR]` (README: Install): the programs, the
# systemd unit, the example configuration, the man pages and the client
# .proto files. Included by the top CMakeLists.txt after the targets; paths
# are GNUInstallDirs' CMAKE_INSTALL_* (relative to the prefix unless set
# absolute) plus CAIRN_INSTALL_SYSTEMDUNITDIR.
#
#   bin/cairnd, bin/cairn                  CMAKE_INSTALL_BINDIR (cairn-bench: bench/)
#   lib/systemd/system/cairnd.service      CAIRN_INSTALL_SYSTEMDUNITDIR
#   share/doc/cairn/examples/cairnd.cfg    CMAKE_INSTALL_DOCDIR/examples
#   share/man/man8/cairnd.8, man1/cairn.1  CMAKE_INSTALL_MANDIR (with help2man)
#   share/cairn/proto/*.proto              CMAKE_INSTALL_DATADIR/cairn/proto
include(GNUInstallDirs)
set(CAIRN_INSTALL_SYSTEMDUNITDIR lib/systemd/system CACHE STRING
    "Where cmake --install puts cairnd.service (relative: under the prefix; systemd reads /usr/lib and /usr/local/lib/systemd/system)")

install(TARGETS cairnd cairn RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The unit names the daemon by its full path, known only at install time
# (`cmake --install --prefix` may differ from the configured prefix):
# install_unit.cmake writes deploy/cairnd.service with ExecStart under the
# prefix in force, then installs that copy.
install(CODE "
set(CAIRN_UNIT_IN \"${PROJECT_SOURCE_DIR}/deploy/cairnd.service\")
set(CAIRN_UNIT_OUT \"${PROJECT_BINARY_DIR}/deploy/cairnd.service\")
set(CAIRN_UNIT_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
set(CAIRN_UNIT_DIR \"${CAIRN_INSTALL_SYSTEMDUNITDIR}\")
include(\"${PROJECT_SOURCE_DIR}/deploy/install_unit.cmake\")")

install(FILES deploy/cairnd.cfg DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# What a client author needs: cairn.proto (the envelope, assembled in the
# build dir) and the store files it imports; not the node's internal ones.
install(FILES ${GEN_DIR}/cairn.proto ${STORE_PROTOS}
        DESTINATION ${CMAKE_INSTALL_DATADIR}/cairn/proto)

# Man pages from the programs' own --help and --version, so they never
# drift from them. Without help2man the build goes on without them; a
# sanitized build (tests only, never installed) does not run its programs
# at build time for them.
find_program(HELP2MAN help2man)
if(HELP2MAN AND NOT CAIRN_SANITIZE)
    set(CAIRN_MAN_PAGES ON)
    set(man_dir ${PROJECT_BINARY_DIR}/man)
    file(MAKE_DIRECTORY ${man_dir})
    set(man_pages "")
    foreach(page "cairnd;8;cairn storage node daemon" "cairn;1;command-line client of a cairn node")
        list(GET page 0 program)
        list(GET page 1 section)
        list(GET page 2 summary)
        add_custom_command(
            OUTPUT ${man_dir}/${program}.${section}
            COMMAND ${HELP2MAN} --no-info --section=${section} "--name=${summary}"
                    --output=${man_dir}/${program}.${section} $<TARGET_FILE:${program}>
            DEPENDS ${program}
            COMMENT "help2man ${program}.${section}"
            VERBATIM)
        install(FILES ${man_dir}/${program}.${section} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
        list(APPEND man_pages ${man_dir}/${program}.${section})
    endforeach()
    add_custom_target(man ALL DEPENDS ${man_pages})
else()
    set(CAIRN_MAN_PAGES OFF)
    if(NOT HELP2MAN)
        message(STATUS "help2man not found: the man pages cairnd.8 and cairn.1 are not built "
                       "nor installed (Debian: apt-get install help2man, then configure again)")
    endif()
endif()
