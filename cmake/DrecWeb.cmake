# The web dashboard: `npm ci` from web/package-lock.json into the build directory,
# esbuild bundles web/src (Chart.js included) into ${DREC_WEB_DIST}, and
# EmbedAssets.cmake compiles the files into drec_lib. Nothing is fetched at run time.
#
# With -DDREC_BUILD_WEB=OFF (no Node.js, no registry) a one-page placeholder is
# embedded instead and the browser test is not registered.
option(DREC_BUILD_WEB "Build the web dashboard with npm and esbuild (needs Node.js >= 18)" ON)

set(DREC_WEB_SOURCE_DIR ${PROJECT_SOURCE_DIR}/web)
set(DREC_WEB_BINARY_DIR ${CMAKE_BINARY_DIR}/web)
set(DREC_WEB_NODE_MODULES ${DREC_WEB_BINARY_DIR}/node_modules)
set(DREC_WEB_DIST ${DREC_WEB_BINARY_DIR}/dist)
set(drec_web_generated ${CMAKE_BINARY_DIR}/generated/api/dashboard_assets.cpp)

if(DREC_BUILD_WEB)
  find_program(DREC_NODE node REQUIRED)
  find_program(DREC_NPM npm REQUIRED)
  set(drec_web_files index.html app.js app.css favicon.svg)
  list(TRANSFORM drec_web_files PREPEND ${DREC_WEB_DIST}/ OUTPUT_VARIABLE drec_web_outputs)
  file(GLOB_RECURSE drec_web_sources CONFIGURE_DEPENDS ${DREC_WEB_SOURCE_DIR}/src/*)

  # Exact versions from the lockfile; packages' install scripts are not run (esbuild's
  # binary comes as a plain optional dependency and needs none). Each build directory
  # has its own node_modules, so parallel builds do not race on the source tree.
  add_custom_command(
    OUTPUT ${DREC_WEB_BINARY_DIR}/npm-ci.stamp
    COMMAND ${CMAKE_COMMAND} -E copy_if_different ${DREC_WEB_SOURCE_DIR}/package.json
            ${DREC_WEB_SOURCE_DIR}/package-lock.json ${DREC_WEB_BINARY_DIR}
    COMMAND ${DREC_NPM} ci --ignore-scripts --no-audit --no-fund --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${DREC_WEB_BINARY_DIR}/npm-ci.stamp
    DEPENDS ${DREC_WEB_SOURCE_DIR}/package.json ${DREC_WEB_SOURCE_DIR}/package-lock.json
    WORKING_DIRECTORY ${DREC_WEB_BINARY_DIR}
    COMMENT "npm ci: dashboard build tools and browser-test driver"
    VERBATIM)
  add_custom_command(
    OUTPUT ${drec_web_outputs}
    COMMAND ${DREC_NODE} ${DREC_WEB_SOURCE_DIR}/build.mjs --outdir ${DREC_WEB_DIST}
            --node-modules ${DREC_WEB_NODE_MODULES}
    DEPENDS ${DREC_WEB_BINARY_DIR}/npm-ci.stamp ${DREC_WEB_SOURCE_DIR}/build.mjs ${drec_web_sources}
    COMMENT "esbuild: bundling the dashboard"
    VERBATIM)
  set(drec_web_input_dir ${DREC_WEB_DIST})
else()
  set(drec_web_files index.html)
  set(drec_web_input_dir ${PROJECT_SOURCE_DIR}/cmake/dashboard-placeholder)
  set(drec_web_outputs ${drec_web_input_dir}/index.html)
endif()

list(JOIN drec_web_files "," drec_web_file_list)
add_custom_command(
  OUTPUT ${drec_web_generated}
  COMMAND ${CMAKE_COMMAND} -DINPUT_DIR=${drec_web_input_dir} -DFILES=${drec_web_file_list}
          -DOUTPUT=${drec_web_generated} -P ${PROJECT_SOURCE_DIR}/cmake/EmbedAssets.cmake
  DEPENDS ${drec_web_outputs} ${PROJECT_SOURCE_DIR}/cmake/EmbedAssets.cmake
  COMMENT "Embedding the dashboard into drec"
  VERBATIM)
target_sources(drec_lib PRIVATE ${drec_web_generated})
