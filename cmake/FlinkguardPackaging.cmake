# Debian package via CPack (`cmake --build <dir> --target package`, or `cpack -G DEB` in the build
# dir): the binary, the systemd units, the system user and state directory, the default config
# (a conffile) and, under /usr/share/flinkguard, the default rule table, the Grafana dashboard,
# the Prometheus rules for the agent and example configs; the man page in /usr/share/man/man1.
#
# Paths follow Debian 12: units in /lib/systemd/system (as debhelper puts them), sysusers.d and
# tmpfiles.d in /usr/lib, the config in /etc/flinkguard. The units run /usr/bin/flinkguard, so
# the package prefix is /usr.
set(FLINKGUARD_PKG_DIR ${PROJECT_SOURCE_DIR}/packaging)

install(TARGETS flinkguard RUNTIME DESTINATION bin)
install(FILES ${FLINKGUARD_PKG_DIR}/systemd/flinkguard.service
              ${FLINKGUARD_PKG_DIR}/systemd/flinkguard@.service
        DESTINATION /lib/systemd/system)
install(FILES ${FLINKGUARD_PKG_DIR}/sysusers.d/flinkguard.conf DESTINATION lib/sysusers.d)
install(FILES ${FLINKGUARD_PKG_DIR}/tmpfiles.d/flinkguard.conf DESTINATION lib/tmpfiles.d)
install(FILES ${FLINKGUARD_PKG_DIR}/etc/flinkguard.yaml DESTINATION /etc/flinkguard)
install(FILES ${FLINKGUARD_PKG_DIR}/rules/default-rules.yaml
              ${FLINKGUARD_PKG_DIR}/rules/default-rules.test.yaml
        DESTINATION share/flinkguard/rules)
install(FILES ${FLINKGUARD_PKG_DIR}/grafana/flinkguard.json DESTINATION share/flinkguard/grafana)
install(FILES ${FLINKGUARD_PKG_DIR}/prometheus/flinkguard-rules.yaml
        DESTINATION share/flinkguard/prometheus)
install(FILES ${FLINKGUARD_PKG_DIR}/flinkguard.yaml
              ${FLINKGUARD_PKG_DIR}/demo/flinkguard-demo.yaml
        DESTINATION share/flinkguard/examples)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/flinkguard)
# The man page, gzipped as Debian policy wants (at configure time; an edit reconfigures).
set(FLINKGUARD_MAN_SRC ${FLINKGUARD_PKG_DIR}/man/flinkguard.1)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${FLINKGUARD_MAN_SRC})
find_program(FLINKGUARD_GZIP gzip REQUIRED)
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/man)
execute_process(COMMAND ${FLINKGUARD_GZIP} -9 -n -c ${FLINKGUARD_MAN_SRC}
                OUTPUT_FILE ${PROJECT_BINARY_DIR}/man/flinkguard.1.gz
                RESULT_VARIABLE FLINKGUARD_GZIP_RESULT)
if(NOT FLINKGUARD_GZIP_RESULT EQUAL 0)
  message(FATAL_ERROR "gzip of ${FLINKGUARD_MAN_SRC} failed: ${FLINKGUARD_GZIP_RESULT}")
endif()
install(FILES ${PROJECT_BINARY_DIR}/man/flinkguard.1.gz DESTINATION share/man/man1)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "flinkguard")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "flinkguard maintainers <flinkguard@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The maintainer scripts create the user with systemd-sysusers, or useradd without systemd.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# conffiles marks /etc/flinkguard/flinkguard.yaml: an upgrade never overwrites local edits.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${FLINKGUARD_PKG_DIR}/deb/conffiles ${FLINKGUARD_PKG_DIR}/deb/postinst
  ${FLINKGUARD_PKG_DIR}/deb/prerm ${FLINKGUARD_PKG_DIR}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
