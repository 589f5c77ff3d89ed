// ThreadSanitizer and the uninstrumented Debian libraries the gRPC-using tests (worker_test,
// runtime_test) run through: gRPC, the abseil it synchronizes with, protobuf and libzmq hand
// buffers between their threads with synchronization TSan does not see, so their allocations and copies look racy. Interceptors
// called from uninstrumented modules are ignored (and races inside them suppressed); our own code
// (engine loop, worker server handlers, RemoteBackend threads, etcd discovery threads) stays
// checked. Linked once into each of those test binaries (their CMakeLists name this file).
#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_options() { return "ignore_noninstrumented_modules=1"; }
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libgrpc.so\n"
         "called_from_lib:libgrpc++.so\n"
         "called_from_lib:libgpr.so\n"
         "called_from_lib:libzmq.so\n"
         "called_from_lib:libupb.so\n"
         "called_from_lib:libprotobuf.so\n";
}
#endif
