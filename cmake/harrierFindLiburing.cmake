# Defines the imported target harrier::liburing. Installed with the package config so that
# consumers of a static harrier find the same library.
if(NOT TARGET harrier::liburing)
  find_path(HARRIER_LIBURING_INCLUDE_DIR liburing.h)
  find_library(HARRIER_LIBURING_LIBRARY NAMES uring)
  if(HARRIER_LIBURING_INCLUDE_DIR AND HARRIER_LIBURING_LIBRARY)
    add_library(harrier::liburing UNKNOWN IMPORTED)
    set_target_properties(harrier::liburing PROPERTIES
      IMPORTED_LOCATION "${HARRIER_LIBURING_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${HARRIER_LIBURING_INCLUDE_DIR}")
  endif()
endif()
