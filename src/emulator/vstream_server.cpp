// src/emulator/vstream_server.cpp — the VStream gRPC service: authentication, one Session per
// VStream call (vstream_session.cpp), the server's start/shutdown/end-streams API, faults and the
// pre-encoded copy cache.
#include "emulator/vstream_session.hpp"

namespace sv::emulator {
namespace asio = boost::asio;
using asio::use_awaitable;
using namespace std::chrono_literals;

bool VStreamServer::Impl::check_auth(const grpc::CallbackServerContext* ctx) const {
  if (options_.user.empty()) return true;
  const auto& md = ctx->client_metadata();
  // PlanetScale's psdb client: "authorization: Basic base64(user:pass)".
  auto it = md.find("authorization");
  if (it != md.end()) {
    std::string v(it->second.data(), it->second.size());
    static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const std::string plain = options_.user + ":" + options_.password;
    std::string enc;
    std::size_t i = 0;
    for (; i + 2 < plain.size(); i += 3) {
      unsigned n = (static_cast<unsigned char>(plain[i]) << 16) | (static_cast<unsigned char>(plain[i + 1]) << 8) |
                   static_cast<unsigned char>(plain[i + 2]);
      enc += {kB64[(n >> 18) & 63], kB64[(n >> 12) & 63], kB64[(n >> 6) & 63], kB64[n & 63]};
    }
    if (i + 1 == plain.size()) {
      unsigned n = static_cast<unsigned char>(plain[i]) << 16;
      enc += {kB64[(n >> 18) & 63], kB64[(n >> 12) & 63], '=', '='};
    } else if (i + 2 == plain.size()) {
      unsigned n = (static_cast<unsigned char>(plain[i]) << 16) | (static_cast<unsigned char>(plain[i + 1]) << 8);
      enc += {kB64[(n >> 18) & 63], kB64[(n >> 12) & 63], kB64[(n >> 6) & 63], '='};
    }
    return v == "Basic " + enc;
  }
  // Vitess' static gRPC auth plugin: "username" / "password" metadata.
  auto u = md.find("username");
  auto p = md.find("password");
  return u != md.end() && p != md.end() && std::string(u->second.data(), u->second.size()) == options_.user &&
         std::string(p->second.data(), p->second.size()) == options_.password;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* VStreamServer::Impl::VStream(grpc::CallbackServerContext* ctx,
                                                                         const grpc::ByteBuffer* request) {
  auto* reactor = new StreamReactor(io_.get_executor(), ctx);
  const bool auth_ok = check_auth(ctx);
  vtgate::VStreamRequest req;
  bool parsed = false;
  if (auth_ok) {
    std::vector<grpc::Slice> slices;
    if (request->Dump(&slices).ok()) {
      std::string bytes;
      for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      parsed = req.ParseFromString(bytes);
    }
  }
  std::string peer = ctx->peer();
  asio::post(io_, [this, reactor, auth_ok, parsed, req = std::move(req), peer]() mutable {
    if (!auth_ok || !parsed) {
      grpc::Status st = !auth_ok ? grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid credentials")
                                 : grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cannot parse VStreamRequest");
      spdlog::warn("vstream from {} rejected: {}", peer, st.error_message());
      asio::co_spawn(
          io_,
          [reactor, st]() -> asio::awaitable<void> {
            co_await reactor->finish(st, false);
            delete reactor;
          },
          asio::detached);
      return;
    }
    auto session = std::make_shared<Session>(*this, reactor, std::move(req), next_id_++, peer);
    sessions_.remove_if([](const std::weak_ptr<Session>& w) { return w.expired(); });
    sessions_.push_back(session);
    std::weak_ptr<Session> weak = session;
    reactor->set_on_cancel([weak] {
      if (auto s = weak.lock()) s->stop(grpc::Status(grpc::StatusCode::CANCELLED, "context canceled"));
    });
    spdlog::info("vstream #{} from {}", session->id(), peer);
    asio::co_spawn(
        io_, [session]() { return session->run(); }, asio::detached);
  });
  return reactor;
}

//---------------------------------------------------------------------------------------------

VStreamServer::VStreamServer(asio::io_context& io, Backend& backend, ServerOptions options)
    : impl_(std::make_unique<Impl>(io, backend, std::move(options))) {}

VStreamServer::~VStreamServer() = default;

sv::Result<int> VStreamServer::start() {
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (impl_->options_.tls) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({impl_->options_.tls->private_key, impl_->options_.tls->cert_chain});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  int port = 0;
  builder.AddListeningPort(impl_->options_.listen, creds, &port);
  builder.RegisterService(impl_.get());
  builder.SetMaxSendMessageSize(100 * 1024 * 1024);
  builder.SetMaxReceiveMessageSize(100 * 1024 * 1024);
  impl_->server_ = builder.BuildAndStart();
  if (!impl_->server_ || port == 0) {
    return sv::config_error("cannot listen on " + impl_->options_.listen);
  }
  return port;
}

void VStreamServer::shutdown() {
  if (!impl_->server_) return;
  // End every stream from the io thread, then let gRPC drain (with a deadline) from this thread.
  asio::post(impl_->io_, [impl = impl_.get()] {
    for (auto& w : impl->sessions_) {
      if (auto s = w.lock()) s->stop(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
    }
  });
  impl_->server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  impl_->server_.reset();
}

void VStreamServer::end_streams(EndMode mode) {
  for (auto it = impl_->sessions_.begin(); it != impl_->sessions_.end();) {
    if (auto s = it->lock()) {
      s->stop(end_status(mode, "stream ended by fault injection"), mode == EndMode::drop);
      ++it;
    } else {
      it = impl_->sessions_.erase(it);
    }
  }
}

void VStreamServer::set_connection_dropper(std::function<bool(const std::string& peer)> dropper) {
  impl_->dropper_ = std::move(dropper);
}

Faults& VStreamServer::faults() { return impl_->faults_; }
const ServerStats& VStreamServer::stats() const { return impl_->stats_; }
Backend& VStreamServer::backend() { return impl_->backend_; }

}  // namespace sv::emulator
