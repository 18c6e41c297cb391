# Install layout, the Debian package (`cpack -G DEB`), a relocatable tarball (`cpack -G TGZ`), and the
# version string every program reports. Included by the top-level CMakeLists.txt after the targets exist.
#
# Layout (prefix /usr in the .deb; any prefix for the tarball, the programs find their data relative to
# themselves):
#   bin/peregrine, bin/peregrine-cli
#   share/applications/peregrine.desktop              desktop entry (Exec=peregrine, Icon=peregrine)
#   share/icons/hicolor/scalable/apps/peregrine.svg   icon
#   share/metainfo/<app id>.metainfo.xml              AppStream metadata
#   share/mime/packages/peregrine.xml                 the application/x-gguf type the entry declares
#   share/peregrine/catalog.json                      curated model catalogue (find_model_catalog())
#   share/doc/peregrine/{copyright,changelog.gz}      Debian policy files

include(GNUInstallDirs)

# ---- The version: the CMake project version, and nothing else --------------------------------------
# Compile definitions on the few sources that print it, so a version bump rebuilds only those.
set(PEREGRINE_VERSION_DEFINITION "PEREGRINE_VERSION=\"${PROJECT_VERSION}\"")
target_compile_definitions(peregrine-cli PRIVATE ${PEREGRINE_VERSION_DEFINITION})
set_property(SOURCE ${PROJECT_SOURCE_DIR}/engine/src/download/http_transfer.cpp
             DIRECTORY ${PROJECT_SOURCE_DIR}/engine
             APPEND PROPERTY COMPILE_DEFINITIONS ${PEREGRINE_VERSION_DEFINITION})
if(TARGET peregrine_ui AND EXISTS ${PROJECT_SOURCE_DIR}/ui/app_info.cpp)
  set_property(SOURCE ${PROJECT_SOURCE_DIR}/ui/app_info.cpp DIRECTORY ${PROJECT_SOURCE_DIR}/ui
               APPEND PROPERTY COMPILE_DEFINITIONS ${PEREGRINE_VERSION_DEFINITION})
endif()

# ---- Package identity (change here, nowhere else) ----------------------------------------------------
set(PEREGRINE_RELEASE_DATE "2026-11-24" CACHE STRING "Date of this release (YYYY-MM-DD), for AppStream and the changelog")
set(PEREGRINE_MAINTAINER "Peregrine developers <peregrine@example.org>" CACHE STRING "Debian Maintainer field")
set(PEREGRINE_APP_ID "org.peregrine.Peregrine" CACHE STRING "AppStream component id (reverse DNS)")
set(PEREGRINE_DEB_CUDA_RECOMMENDS "libcuda1" CACHE STRING
    "Recommends of a CUDA build: the driver library the CUDA runtime loads")
set(PEREGRINE_DESKTOP_ID "peregrine.desktop")

# ---- Install rules -----------------------------------------------------------------------------------
install(TARGETS peregrine-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET peregrine)
  install(TARGETS peregrine RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/resources/peregrine.desktop
          DESTINATION ${CMAKE_INSTALL_DATADIR}/applications RENAME ${PEREGRINE_DESKTOP_ID})
  install(FILES ${PROJECT_SOURCE_DIR}/resources/peregrine.svg
          DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps)
  configure_file(${CMAKE_CURRENT_LIST_DIR}/peregrine.metainfo.xml.in
                 ${PROJECT_BINARY_DIR}/packaging/${PEREGRINE_APP_ID}.metainfo.xml @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/packaging/${PEREGRINE_APP_ID}.metainfo.xml
          DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo)
  install(FILES ${CMAKE_CURRENT_LIST_DIR}/gguf-mime.xml
          DESTINATION ${CMAKE_INSTALL_DATADIR}/mime/packages RENAME peregrine.xml)
endif()
install(FILES ${PROJECT_SOURCE_DIR}/models/catalog.json DESTINATION ${CMAKE_INSTALL_DATADIR}/peregrine)
# The build tree mirrors the installed layout for data, so bin/peregrine-cli finds bin/../share/... there too.
configure_file(${PROJECT_SOURCE_DIR}/models/catalog.json ${PROJECT_BINARY_DIR}/share/peregrine/catalog.json COPYONLY)

# Debian policy: copyright, a changelog and manual pages, the last two compressed with gzip -9n (no
# name, no timestamp, so the package is reproducible).
function(peregrine_configure_gzipped template output)
  configure_file(${template} ${PROJECT_BINARY_DIR}/packaging/${output} @ONLY)
  execute_process(COMMAND gzip -9nc ${PROJECT_BINARY_DIR}/packaging/${output}
                  OUTPUT_FILE ${PROJECT_BINARY_DIR}/packaging/${output}.gz)
endfunction()
execute_process(COMMAND date -u -R -d ${PEREGRINE_RELEASE_DATE}
                OUTPUT_VARIABLE PEREGRINE_RELEASE_DATE_RFC2822 OUTPUT_STRIP_TRAILING_WHITESPACE)
peregrine_configure_gzipped(${CMAKE_CURRENT_LIST_DIR}/changelog.in changelog)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/copyright ${PROJECT_BINARY_DIR}/packaging/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/peregrine)
peregrine_configure_gzipped(${CMAKE_CURRENT_LIST_DIR}/man/peregrine-cli.1.in peregrine-cli.1)
install(FILES ${PROJECT_BINARY_DIR}/packaging/peregrine-cli.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
if(TARGET peregrine)
  peregrine_configure_gzipped(${CMAKE_CURRENT_LIST_DIR}/man/peregrine.1.in peregrine.1)
  install(FILES ${PROJECT_BINARY_DIR}/packaging/peregrine.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

# ---- CPack -------------------------------------------------------------------------------------------
set(CPACK_PACKAGE_NAME "peregrine")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "Peregrine")
set(CPACK_PACKAGE_CONTACT "${PEREGRINE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "chat with language models on your own machine")
# Lines of the extended description (Debian wants them under 80 columns).
set(CPACK_PACKAGE_DESCRIPTION [=[Peregrine runs large language models in GGUF format (Llama and Qwen2
families) on the CPU or an NVIDIA GPU with its own inference engine, and
shows where the time and memory go. The desktop app downloads a first
model from a curated catalogue with resume and a sha256 check;
peregrine-cli generates text, inspects models and pulls them from
Hugging Face.]=])
set(CPACK_GENERATOR "DEB")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_FILE_NAME "peregrine-${PROJECT_VERSION}-${CMAKE_SYSTEM_PROCESSOR}")

# The .deb installs under /usr (CPack's default for DEB); the tarball keeps bin/ and share/ at its root.
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)    # peregrine_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Depends are computed by dpkg-shlibdeps at packaging time (deb_depends.cmake), which also tolerates a
# CUDA runtime that no Debian package owns (/usr/local/cuda).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_CURRENT_LIST_DIR}/deb_depends.cmake)
set(CPACK_PEREGRINE_BINARIES "${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/peregrine-cli")
set(CPACK_PEREGRINE_EXTRA_DEPENDS "")
if(TARGET peregrine)
  list(APPEND CPACK_PEREGRINE_BINARIES "${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/peregrine")
  # Qt loads its platform plugin (xcb, wayland) at run time, so dpkg-shlibdeps cannot see it.
  set(CPACK_PEREGRINE_EXTRA_DEPENDS "qt6-qpa-plugins")
endif()
set(CPACK_PEREGRINE_PRIVATE_LIB_DIRS "")
if(PEREGRINE_ENABLE_CUDA)
  set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "${PEREGRINE_DEB_CUDA_RECOMMENDS}")
  if(TARGET CUDA::cudart)
    get_target_property(_cudart_location CUDA::cudart IMPORTED_LOCATION)
    if(_cudart_location)
      get_filename_component(_cudart_dir "${_cudart_location}" DIRECTORY)
      set(CPACK_PEREGRINE_PRIVATE_LIB_DIRS "${_cudart_dir}")
    endif()
  endif()
endif()

include(CPack)
