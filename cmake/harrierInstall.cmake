# cmake --install: headers, the library, and a package config for find_package(harrier).
include(CMakePackageConfigHelpers)

set(harrier_install_targets harrier)
if(HARRIER_BUNDLED_LLHTTP)
  list(APPEND harrier_install_targets harrier_llhttp)
endif()

install(TARGETS ${harrier_install_targets} EXPORT harrierTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/harrier DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(harrier_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/harrier)
install(EXPORT harrierTargets NAMESPACE harrier:: DESTINATION ${harrier_cmake_dir})
configure_package_config_file(cmake/harrierConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/harrierConfig.cmake
  INSTALL_DESTINATION ${harrier_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/harrierConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/harrierConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/harrierConfigVersion.cmake
  cmake/harrierFindLiburing.cmake
  cmake/harrierFindBrotli.cmake
  DESTINATION ${harrier_cmake_dir})
