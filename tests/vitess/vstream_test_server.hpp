// tests/vitess: a minimal in-process gRPC VStream server for client tests. Each call plays a script
// (responses, then a final status, or a stall until the client cancels) and records what the
// client sent (request, authorization header) and how far the server got (writes, cancels).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "vtgateservice.grpc.pb.h"
#include "wait.hpp"

namespace sv::vitess::test {

struct Script {
  std::vector<vtgate::VStreamResponse> responses;
  grpc::Status final_status = grpc::Status::OK;
  bool stall = false;  //!< after the responses, send nothing until the client cancels
};

class TestVStreamService final : public vtgateservice::Vitess::CallbackService {
 public:
  std::function<Script(const vtgate::VStreamRequest&)> script_for;

  std::mutex mu;
  std::vector<std::string> auth_headers;
  std::vector<std::string> accept_encodings;
  std::vector<vtgate::VStreamRequest> requests;
  std::atomic<int> calls{0};
  std::atomic<int> writes_done{0};
  std::atomic<int> cancels{0};
  sv::testing::Counter done;  //!< calls ended (OnDone); tests wait on it

  grpc::ServerWriteReactor<vtgate::VStreamResponse>* VStream(grpc::CallbackServerContext* ctx,
                                                             const vtgate::VStreamRequest* request) override {
    ++calls;
    {
      std::lock_guard lock(mu);
      auto md = ctx->client_metadata();
      auto it = md.find("authorization");
      auth_headers.push_back(it == md.end() ? "<none>" : std::string(it->second.data(), it->second.size()));
      auto enc = md.find("grpc-accept-encoding");
      accept_encodings.push_back(enc == md.end() ? "<none>" : std::string(enc->second.data(), enc->second.size()));
      requests.push_back(*request);
    }
    return new Writer(this, script_for ? script_for(*request) : Script{});
  }

 private:
  class Writer final : public grpc::ServerWriteReactor<vtgate::VStreamResponse> {
   public:
    Writer(TestVStreamService* svc, Script script) : svc_(svc), script_(std::move(script)) {
      std::lock_guard lock(mu_);
      step_locked();
    }

    void OnWriteDone(bool ok) override {
      std::lock_guard lock(mu_);
      writing_ = false;
      if (!ok) {
        finish_locked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
        return;
      }
      ++svc_->writes_done;
      ++next_;
      step_locked();
    }

    void OnCancel() override {
      ++svc_->cancels;
      std::lock_guard lock(mu_);
      cancelled_ = true;
      if (!writing_) finish_locked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    }

    void OnDone() override {
      ++svc_->done;
      delete this;
    }

   private:
    void step_locked() {
      if (cancelled_) {
        finish_locked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      } else if (next_ < script_.responses.size()) {
        writing_ = true;
        StartWrite(&script_.responses[next_]);
      } else if (!script_.stall) {
        finish_locked(script_.final_status);
      }
    }
    void finish_locked(const grpc::Status& s) {
      if (finished_) return;
      finished_ = true;
      Finish(s);
    }

    TestVStreamService* svc_;
    Script script_;
    std::mutex mu_;
    std::size_t next_ = 0;
    bool writing_ = false;
    bool cancelled_ = false;
    bool finished_ = false;
  };
};

//! A running server on 127.0.0.1 and a free port.
struct TestServer {
  TestVStreamService service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  explicit TestServer(std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials()) {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", creds, &port);
    b.RegisterService(&service);
    b.SetMaxSendMessageSize(200 * 1024 * 1024);
    server = b.BuildAndStart();
  }
  ~TestServer() {
    if (server) server->Shutdown(std::chrono::system_clock::now());
  }
};

}  // namespace sv::vitess::test
