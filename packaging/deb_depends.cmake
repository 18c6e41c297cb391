# CPack project config (CPACK_PROJECT_CONFIG_FILE): read by cpack once per generator, after the build.
# For the .deb it asks dpkg-shlibdeps which packages the binaries' shared libraries come from and turns
# that into Depends. Unlike CPack's own SHLIBDEPS it passes --ignore-missing-info, so a CUDA runtime
# installed outside dpkg (/usr/local/cuda) does not stop the build; CUDA is a Recommends instead.
if(NOT CPACK_GENERATOR STREQUAL "DEB")
  return()
endif()

find_program(PEREGRINE_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(NOT PEREGRINE_DPKG_SHLIBDEPS)
  message(FATAL_ERROR "dpkg-shlibdeps (package dpkg-dev) is needed to compute the .deb's Depends")
endif()

# dpkg-shlibdeps wants to run inside a source package: give it a minimal one.
set(_work "${CPACK_PACKAGE_DIRECTORY}/_peregrine_shlibdeps")
file(MAKE_DIRECTORY "${_work}/debian")
file(WRITE "${_work}/debian/control" "Source: peregrine\n\nPackage: peregrine\nArchitecture: any\n")
set(_args -O --ignore-missing-info)
foreach(dir ${CPACK_PEREGRINE_PRIVATE_LIB_DIRS})
  list(APPEND _args "-l${dir}")
endforeach()
foreach(binary ${CPACK_PEREGRINE_BINARIES})
  if(NOT EXISTS "${binary}")
    message(FATAL_ERROR "${binary} is not built; build everything before running cpack")
  endif()
  list(APPEND _args "-e${binary}")
endforeach()
execute_process(COMMAND ${PEREGRINE_DPKG_SHLIBDEPS} ${_args}
                WORKING_DIRECTORY "${_work}"
                OUTPUT_VARIABLE _out ERROR_VARIABLE _err RESULT_VARIABLE _rc)
file(REMOVE_RECURSE "${_work}")
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "dpkg-shlibdeps failed (${_rc}):\n${_err}")
endif()
string(REGEX MATCH "shlibs:Depends=([^\n]*)" _match "${_out}")
set(_depends "${CMAKE_MATCH_1}")
if(_depends STREQUAL "")
  message(FATAL_ERROR "dpkg-shlibdeps found no dependencies:\n${_out}\n${_err}")
endif()
if(CPACK_PEREGRINE_EXTRA_DEPENDS)
  string(APPEND _depends ", ${CPACK_PEREGRINE_EXTRA_DEPENDS}")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_depends}")
message(STATUS "peregrine .deb Depends: ${CPACK_DEBIAN_PACKAGE_DEPENDS}")
