// ThreadSanitizer and the uninstrumented Debian libraries the gRPC-using tests (worker_test,
// runtime_test) run through: gRPC, the abseil it synchronizes with, protobuf and libzmq hand
// buffers between their threads with synchronization TSan does not see, so their allocations and copies look racy. Interceptors
// called from uninstrumented modules are ignored (and races inside them suppressed); our own code
// (engine loop, worker server reactors, RemoteBackend reactors and waiter, etcd discovery
// threads) stays checked. Linked once into each of those test binaries (their CMakeLists name this file).
#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_options() { return "ignore_noninstrumented_modules=1"; }
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libgrpc.so\n"
         "called_from_lib:libgrpc++.so\n"
         "called_from_lib:libgpr.so\n"
         "called_from_lib:libzmq.so\n"
         "called_from_lib:libupb.so\n"
         "called_from_lib:libprotobuf.so\n"
         // The callback API's code lives in gRPC's headers, so it is compiled into our binaries
         // and instrumented, while the completion queue that orders it is not: its accesses
         // (and the protobuf messages and std::function tags it fills and runs) look racy. Only
         // races whose innermost frame is that code are suppressed; our reactors mark their
         // handoffs to gRPC (core/tsan.h), so our own state stays checked.
         "race_top:grpc::\n"
         "race_top:google::protobuf::\n"
         "race_top:mint::runtime::pb::\n"
         "race_top:std::_Function_base::_M_empty\n"
         "race_top:std::function<void (bool)>::operator()\n"
         "race_top:std::swap<std::_Any_data>\n"
         "race_top:std::swap<grpc::Status (*)\n"
         "race_top:std::swap<bool (*)(std::_Any_data\n"
         "race_top:std::_Function_base::~_Function_base\n"
         // A call's grpc::Status, made on our thread, filled on gRPC's.
         "race:grpc::Status::operator=\n"
         // What a reactor did before gRPC bound it (its backlog), replayed on gRPC's thread.
         "race:PreBindBacklog\n"
         "race:InternalBindWriter\n";
}
#endif
