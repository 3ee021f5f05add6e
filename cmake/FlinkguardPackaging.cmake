# Debian package via CPack. Contents grow with the project (units, config, rules, dashboards).
install(TARGETS flinkguard RUNTIME DESTINATION bin)
install(FILES packaging/flinkguard.yaml DESTINATION share/flinkguard/examples)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "flinkguard")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "flinkguard maintainers <flinkguard@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
include(CPack)
