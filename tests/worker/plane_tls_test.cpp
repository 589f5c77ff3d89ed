// Mutual TLS on the request plane: a worker started with the cluster certificate answers only
// callers that present a certificate of the same cluster CA. The reproduction this guards: a raw
// gRPC Generate call to a worker's port returned tokens while the HTTP API wanted a key.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "engine/engine.h"
#include "model/model.h"
#include "model/synth.h"
#include "runtime/plane_tls.h"
#include "runtime/request_plane.h"
#include "worker/worker_server.h"

namespace mint {
namespace {

class PlaneTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path =
        (std::filesystem::path(::testing::TempDir()) / "mint_plane_tls_tiny.gguf").string();
    model::SynthOptions o{.preset = "tiny", .type = model::SynthFileType::kQ8_0, .seed = 3,
                          .vocab = "builtin"};
    ASSERT_TRUE(model::WriteSynthModel(o, path).ok());
    model_ = std::move(model::Model::Load(path)).value();
    engine::EngineConfig c;
    c.kv_cache_blocks = 256;
    c.threads = 1;
    c.scheduler.max_model_len = 512;
    engine_ = std::move(engine::Engine::Create(model_.get(), c)).value();
    auto cluster = runtime::GeneratePlaneTls();
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = *cluster;
    server_ = std::move(worker::WorkerServer::Start(
                            engine_.get(), {.worker_id = "w", .model_name = "tiny",
                                            .bind = "127.0.0.1:0", .tls = cluster_}))
                  .value();
    address_ = "127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    server_.reset();
    engine_.reset();
  }

  // Health over a channel with `tls`: the gRPC status code.
  grpc::StatusCode Health(const runtime::PlaneTls& tls) {
    auto stub = runtime::pb::Worker::NewStub(runtime::MakeWorkerChannel(address_, 5000, tls));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    runtime::pb::HealthRequest req;
    runtime::pb::HealthResponse resp;
    return stub->Health(&ctx, req, &resp).error_code();
  }

  // Generate over a channel with `tls`: the tokens received, and the final status code.
  std::pair<int, grpc::StatusCode> Generate(const runtime::PlaneTls& tls) {
    auto stub = runtime::pb::Worker::NewStub(runtime::MakeWorkerChannel(address_, 5000, tls));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    protocol::GenerateRequest r;
    r.prompt = {5, 6, 7, 8};
    r.max_tokens = 4;
    r.sampling.temperature = 0;
    auto reader = stub->Generate(&ctx, runtime::ToProto(r));
    runtime::pb::GenerateResponse resp;
    int tokens = 0;
    while (reader->Read(&resp)) tokens += resp.tokens_size();
    return {tokens, reader->Finish().error_code()};
  }

  std::unique_ptr<model::Model> model_;
  std::unique_ptr<engine::Engine> engine_;
  runtime::PlaneTls cluster_;
  std::unique_ptr<worker::WorkerServer> server_;
  std::string address_;
};

TEST_F(PlaneTlsTest, ClusterMembersAreServed) {
  EXPECT_EQ(Health(cluster_), grpc::StatusCode::OK);
  auto [tokens, code] = Generate(cluster_);
  EXPECT_EQ(code, grpc::StatusCode::OK);
  EXPECT_EQ(tokens, 4);
}

TEST_F(PlaneTlsTest, PlaintextCallerIsRefused) {
  EXPECT_NE(Health(runtime::PlaneTls{}), grpc::StatusCode::OK);
  auto [tokens, code] = Generate(runtime::PlaneTls{});
  EXPECT_NE(code, grpc::StatusCode::OK);
  EXPECT_EQ(tokens, 0);
}

TEST_F(PlaneTlsTest, CallerOfAnotherClusterIsRefused) {
  const uint64_t refused_before = runtime::PlaneTlsHandshakeFailures();
  auto other = runtime::GeneratePlaneTls();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(Health(*other), grpc::StatusCode::OK);
  auto [tokens, code] = Generate(*other);
  EXPECT_NE(code, grpc::StatusCode::OK);
  EXPECT_EQ(tokens, 0);
  // Our CA but another cluster's certificate (and key) as the client's: refused too.
  runtime::PlaneTls mixed = *other;
  mixed.ca_pem = cluster_.ca_pem;
  EXPECT_NE(Health(mixed), grpc::StatusCode::OK);
  // Each refusal is counted (the worker's /metrics shows the count).
  EXPECT_GT(runtime::PlaneTlsHandshakeFailures(), refused_before);
}

TEST(PlaneTlsFilesTest, WriteThenLoadRoundTripsAndKeepsTheKeyPrivate) {
  auto tls = runtime::GeneratePlaneTls();
  ASSERT_TRUE(tls.ok());
  const std::string dir = (std::filesystem::path(::testing::TempDir()) / "mint_certs").string();
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(runtime::WritePlaneTls(*tls, dir).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = runtime::LoadPlaneTls(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->ca_pem, tls->ca_pem);
  EXPECT_EQ(loaded->cert_pem, tls->cert_pem);
  EXPECT_EQ(loaded->key_pem, tls->key_pem);
  std::filesystem::remove(dir + "/cert.pem");
  auto missing = runtime::LoadPlaneTls(dir);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cert.pem"), std::string::npos);
}

}  // namespace
}  // namespace mint
