// src/vitess: a received VStreamResponse in wire form (see wire_response.hpp).
#include "vitess/wire_response.hpp"

namespace sv::vitess {

WireResponse::WireResponse(const grpc::ByteBuffer& buffer) {
  if (buffer.TrySingleSlice(&slice_).ok()) return;
  // Several slices (or a compressed buffer): join them once. Only an empty buffer fails here, and
  // an empty message is an empty response.
  if (!buffer.DumpToSingleSlice(&slice_).ok()) slice_ = grpc::Slice();
}

WireResponse::WireResponse(std::string_view bytes) : slice_(bytes.data(), bytes.size()) {}

bool WireResponse::parse(vtgate::VStreamResponse& out) const {
  const std::string_view b = bytes();
  return out.ParseFromArray(b.data(), static_cast<int>(b.size()));
}

}  // namespace sv::vitess
