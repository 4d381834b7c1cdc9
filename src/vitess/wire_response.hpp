// src/vitess: one VStreamResponse as gRPC received it, still in wire form: its bytes, kept alive
// by a reference-counted gRPC slice, so the engine renders ROW events straight from them
// (raw_response.hpp) and parses no message on the hot path. A response that arrived in one
// piece is not copied; one that arrived in several HTTP/2 frames is joined into one slice once.
#pragma once

#include <string_view>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include "vtgate.pb.h"

namespace sv::vitess {

class WireResponse {
 public:
  WireResponse() = default;
  //! The bytes of a received message (the buffer is left as it was: slices are shared).
  explicit WireResponse(const grpc::ByteBuffer& buffer);
  //! Bytes of our own (tests, a fake source).
  explicit WireResponse(std::string_view bytes);

  //! The serialized vtgate.VStreamResponse; valid while this object (or a copy) lives.
  std::string_view bytes() const {
    // From the slice each time: a small slice keeps its bytes inside itself, so a view taken
    // before a move would dangle.
    return {reinterpret_cast<const char*>(slice_.begin()), slice_.size()};
  }

  //! The generated message, for callers off the hot path (the position peek, tests); false when
  //! protobuf cannot parse the bytes.
  bool parse(vtgate::VStreamResponse& out) const;

 private:
  grpc::Slice slice_;
};

}  // namespace sv::vitess
