// src/engine: AirbyteOutput and its RECORD row writer (see output.hpp).
#include "airbyte/emitter.hpp"
#include "engine/output.hpp"

namespace sv::engine {
namespace {

class RecordWriter final : public RowWriter {
 public:
  explicit RecordWriter(const airbyte::StreamDescriptor& stream) : serializer_(stream) {}
  void write(const RowView& row) override {
    write_row_object(batch_.begin(serializer_, row.emitted_at), row);
    batch_.end();
  }
  std::uint64_t count() const override { return batch_.count(); }
  std::string take() override { return batch_.take(); }

 private:
  airbyte::RecordSerializer serializer_;
  airbyte::RecordBatch batch_;
};

}  // namespace

std::unique_ptr<RowWriter> make_record_writer(const airbyte::StreamDescriptor& stream) {
  return std::make_unique<RecordWriter>(stream);
}

std::unique_ptr<RowWriter> AirbyteOutput::row_writer(const airbyte::StreamDescriptor& stream,
                                                     const std::vector<std::string>&) const {
  return make_record_writer(stream);
}

boost::asio::awaitable<bool> AirbyteOutput::started(std::size_t stream) { return em_.started(stream); }

boost::asio::awaitable<bool> AirbyteOutput::estimate(std::size_t stream, std::uint64_t rows, std::uint64_t bytes) {
  return em_.estimate(stream, rows, bytes);
}

boost::asio::awaitable<bool> AirbyteOutput::push(Batch batch) {
  return em_.push(airbyte::Batch(batch.stream, std::move(batch.lines), batch.count, std::move(batch.state)));
}

boost::asio::awaitable<bool> AirbyteOutput::complete(std::size_t stream) { return em_.complete(stream); }

boost::asio::awaitable<bool> AirbyteOutput::incomplete(std::size_t stream, Error error) {
  return em_.incomplete(stream, std::move(error));
}

boost::asio::awaitable<bool> AirbyteOutput::warning(std::string message) {
  return em_.log(airbyte::LogLevel::warn, std::move(message));
}

boost::asio::awaitable<void> AirbyteOutput::shutdown() { return em_.shutdown(); }

std::size_t AirbyteOutput::queued() const { return em_.queued(); }

}  // namespace sv::engine
