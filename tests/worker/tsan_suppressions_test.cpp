// ThreadSanitizer and the uninstrumented Debian libraries worker_test runs through: gRPC (its
// completion queues and atomics) and libzmq (lock-free pipes) synchronize in code TSan does not
// see, so what they touch on our behalf looks racy. Ignore races reported from inside them; our
// own code (engine loop, worker server handlers, RemoteBackend threads) stays checked. One
// definition for the whole worker_test binary (named *_test.cpp to be picked up by the glob).
#if defined(__SANITIZE_THREAD__)
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:libgrpc.so\n"
         "called_from_lib:libgrpc++.so\n"
         "called_from_lib:libgpr.so\n"
         "called_from_lib:libzmq.so\n";
}
#endif
