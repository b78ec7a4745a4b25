# Defines the imported targets harrier::brotlienc and harrier::brotlidec when libbrotli-dev is
# installed (both or neither). Optional: without them, response compression offers gzip only.
# Installed with the package config so that consumers of a static harrier find the same library.
if(NOT TARGET harrier::brotlienc)
  find_path(HARRIER_BROTLI_INCLUDE_DIR brotli/encode.h)
  find_library(HARRIER_BROTLIENC_LIBRARY NAMES brotlienc)
  find_library(HARRIER_BROTLIDEC_LIBRARY NAMES brotlidec)
  if(HARRIER_BROTLI_INCLUDE_DIR AND HARRIER_BROTLIENC_LIBRARY AND HARRIER_BROTLIDEC_LIBRARY)
    add_library(harrier::brotlienc UNKNOWN IMPORTED)
    set_target_properties(harrier::brotlienc PROPERTIES
      IMPORTED_LOCATION "${HARRIER_BROTLIENC_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${HARRIER_BROTLI_INCLUDE_DIR}")
    add_library(harrier::brotlidec UNKNOWN IMPORTED)
    set_target_properties(harrier::brotlidec PROPERTIES
      IMPORTED_LOCATION "${HARRIER_BROTLIDEC_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${HARRIER_BROTLI_INCLUDE_DIR}")
  endif()
endif()
