# etcd v3 gRPC client stubs, generated at build time from the protos Debian ships (never copied
# into this repository). Included by CMakeLists.txt in this directory; appends the generated .cc
# files to MINT_RUNTIME_GEN, headers land under MINT_RUNTIME_GEN_DIR/etcd/...
#
# etcd's protos import gogoproto and google.api annotations, which protoc cannot find here and
# which only matter to Go: this same file, run as `cmake -P etcd_proto.cmake` at build time,
# writes copies without those imports and options into the build tree.
#
# Script mode: -DSRC_DIR=<dir holding etcdserver/, mvcc/, auth/> -DDST_DIR=<dir>/etcd
#              -DPROTOS=<relative paths, '|'-separated>

if(CMAKE_SCRIPT_MODE_FILE)
  string(REPLACE "|" ";" protos "${PROTOS}")
  foreach(rel IN LISTS protos)
    file(READ "${SRC_DIR}/${rel}" text)
    # import "gogoproto/gogo.proto"; import "google/api/annotations.proto";
    string(REGEX REPLACE "import[ \t]+\"(gogoproto|google/api)/[^\"]*\"[ \t]*;" "" text "${text}")
    # option (gogoproto.marshaler_all) = true;
    string(REGEX REPLACE "option[ \t\r\n]*\\(gogoproto\\.[A-Za-z0-9_]+\\)[^;]*;" "" text "${text}")
    # option (google.api.http) = { post: "/v3/kv/range" body: "*" };  spans lines and may nest
    # one level: additional_bindings { post: ... }
    set(ws "[ \t\r\n]*")
    set(re "option${ws}\\(google\\.api\\.[A-Za-z0-9_]+\\)${ws}=${ws}{([^{}]|{[^{}]*})*}${ws};")
    string(REGEX REPLACE "${re}" "" text "${text}")
    # Field options: [(gogoproto.nullable) = false, (gogoproto.customname) = "ID"]
    string(REGEX REPLACE "[ \t]*\\[[ \t\r\n]*\\(gogoproto\\.[^]]*\\]" "" text "${text}")
    if(text MATCHES "gogoproto|google\\.api")
      message(FATAL_ERROR "etcd_proto.cmake: ${rel} still mentions gogoproto or google.api after "
                          "cleaning; its syntax changed, update the patterns here")
    endif()
    file(WRITE "${DST_DIR}/${rel}" "${text}")
  endforeach()
  return()
endif()

set(MINT_ETCD_PROTOS etcdserver/etcdserverpb/rpc.proto mvcc/mvccpb/kv.proto auth/authpb/auth.proto)
if(NOT MINT_ETCD_PROTO_DIR)
  foreach(dir /usr/local/share/mint/etcd-proto /usr/share/gocode/src/go.etcd.io/etcd)
    if(EXISTS ${dir}/etcdserver/etcdserverpb/rpc.proto)
      set(MINT_ETCD_PROTO_DIR ${dir} CACHE PATH
          "Directory holding etcd's etcdserver/etcdserverpb/rpc.proto, mvcc/, auth/")
      break()
    endif()
  endforeach()
endif()
foreach(rel IN LISTS MINT_ETCD_PROTOS)
  if(NOT MINT_ETCD_PROTO_DIR OR NOT EXISTS ${MINT_ETCD_PROTO_DIR}/${rel})
    message(FATAL_ERROR "etcd protos not found (looked for ${rel} under MINT_ETCD_PROTO_DIR="
                        "'${MINT_ETCD_PROTO_DIR}', /usr/local/share/mint/etcd-proto and "
                        "/usr/share/gocode/src/go.etcd.io/etcd). Run scripts/install-deps.sh, "
                        "which extracts them from Debian's golang-etcd-server-dev, or set "
                        "-DMINT_ETCD_PROTO_DIR=<dir>.")
  endif()
endforeach()

set(etcd_clean_dir ${CMAKE_CURRENT_BINARY_DIR}/etcd-proto)  # import root: etcd/... as etcd wants
set(etcd_src)
set(etcd_clean)
foreach(rel IN LISTS MINT_ETCD_PROTOS)
  list(APPEND etcd_src ${MINT_ETCD_PROTO_DIR}/${rel})
  list(APPEND etcd_clean ${etcd_clean_dir}/etcd/${rel})
endforeach()
string(REPLACE ";" "|" etcd_protos_arg "${MINT_ETCD_PROTOS}")
add_custom_command(
  OUTPUT ${etcd_clean}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${etcd_clean_dir}/etcd/etcdserver/etcdserverpb
          ${etcd_clean_dir}/etcd/mvcc/mvccpb ${etcd_clean_dir}/etcd/auth/authpb
  COMMAND ${CMAKE_COMMAND} -DSRC_DIR=${MINT_ETCD_PROTO_DIR} -DDST_DIR=${etcd_clean_dir}/etcd
          -DPROTOS=${etcd_protos_arg} -P ${CMAKE_CURRENT_LIST_FILE}
  DEPENDS ${etcd_src} ${CMAKE_CURRENT_LIST_FILE}
  COMMENT "etcd protos without gogoproto / google.api options" VERBATIM)
foreach(clean IN LISTS etcd_clean)
  mint_grpc_generate(MINT_RUNTIME_GEN ${clean} ${etcd_clean_dir} ${MINT_RUNTIME_GEN_DIR})
endforeach()
