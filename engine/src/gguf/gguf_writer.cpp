// GgufWriter: builds a version-3 GGUF image laid out the way llama.cpp's own writer lays it out
// (tensor data packed in order, each tensor padded to the alignment), so both readers accept it.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "peregrine/gguf.h"

namespace peregrine::gguf {
namespace {

constexpr std::string_view kAlignmentKey = "general.alignment";
constexpr size_t kMaxTensorName = 63;  // llama.cpp keeps names in a 64-byte buffer with a terminator

class ByteSink {
public:
    template <typename T>
    void put(T value) {
        put_raw(&value, sizeof(T));
    }
    void put_string(std::string_view s) {
        put<uint64_t>(s.size());
        put_raw(s.data(), s.size());
    }
    // resize + memcpy rather than insert(): g++ 12 warns falsely (-Wstringop-overflow) on insert.
    void put_raw(const void* data, size_t n) {
        if (n == 0) return;
        const size_t at = bytes.size();
        bytes.resize(at + n);
        std::memcpy(bytes.data() + at, data, n);
    }
    void pad_to(uint64_t alignment) {
        while (bytes.size() % alignment != 0) bytes.push_back(0);
    }
    std::vector<uint8_t> bytes;
};

template <typename T>
T checked_unsigned(const Value& v, const std::string& what) {
    const uint64_t u = v.to_uint64(what);
    if (u > std::numeric_limits<T>::max()) {
        throw Error(fmt::format("{}: value {} does not fit in {}", what, u, value_type_name(v.type)));
    }
    return static_cast<T>(u);
}

template <typename T>
T checked_signed(const Value& v, const std::string& what) {
    const int64_t s = v.to_int64(what);
    if (s < std::numeric_limits<T>::min() || s > std::numeric_limits<T>::max()) {
        throw Error(fmt::format("{}: value {} does not fit in {}", what, s, value_type_name(v.type)));
    }
    return static_cast<T>(s);
}

void put_value(ByteSink& out, const Value& v, const std::string& what, int depth) {
    switch (v.type) {
        case ValueType::UINT8: out.put(checked_unsigned<uint8_t>(v, what)); return;
        case ValueType::UINT16: out.put(checked_unsigned<uint16_t>(v, what)); return;
        case ValueType::UINT32: out.put(checked_unsigned<uint32_t>(v, what)); return;
        case ValueType::UINT64: out.put(checked_unsigned<uint64_t>(v, what)); return;
        case ValueType::INT8: out.put(checked_signed<int8_t>(v, what)); return;
        case ValueType::INT16: out.put(checked_signed<int16_t>(v, what)); return;
        case ValueType::INT32: out.put(checked_signed<int32_t>(v, what)); return;
        case ValueType::INT64: out.put(checked_signed<int64_t>(v, what)); return;
        case ValueType::FLOAT32: out.put(static_cast<float>(v.to_double(what))); return;
        case ValueType::FLOAT64: out.put(v.to_double(what)); return;
        case ValueType::BOOL: out.put<uint8_t>(v.to_bool(what) ? 1 : 0); return;
        case ValueType::STRING: out.put_string(v.to_string(what)); return;
        case ValueType::ARRAY: {
            if (depth >= kMaxArrayNesting) {
                throw Error(fmt::format("{}: arrays nested deeper than {} levels", what, kMaxArrayNesting));
            }
            const Array& array = v.to_array(what);
            out.put(static_cast<uint32_t>(array.element_type));
            out.put<uint64_t>(array.items.size());
            for (const Value& item : array.items) {
                if (item.type != array.element_type) {
                    throw Error(fmt::format("{}: array of {} holds an item of type {}", what,
                                            value_type_name(array.element_type), value_type_name(item.type)));
                }
                put_value(out, item, what, depth + 1);
            }
            return;
        }
    }
    throw Error(fmt::format("{}: unknown value type {}", what, static_cast<uint32_t>(v.type)));
}

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        throw Error(fmt::format("GgufWriter: alignment {} is not a power of two", alignment));
    }
}

void GgufWriter::set(std::string key, Value value) {
    if (key == kAlignmentKey) {
        throw Error("GgufWriter: general.alignment is set through the constructor, not as metadata");
    }
    for (auto& [k, v] : metadata_) {
        if (k == key) {
            v = std::move(value);
            return;
        }
    }
    metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::set_uint32(std::string key, uint32_t v) { set(std::move(key), Value::make_uint(ValueType::UINT32, v)); }
void GgufWriter::set_int32(std::string key, int32_t v) { set(std::move(key), Value::make_int(ValueType::INT32, v)); }
void GgufWriter::set_uint64(std::string key, uint64_t v) { set(std::move(key), Value::make_uint(ValueType::UINT64, v)); }
void GgufWriter::set_float32(std::string key, float v) { set(std::move(key), Value::make_float(ValueType::FLOAT32, v)); }
void GgufWriter::set_bool(std::string key, bool v) { set(std::move(key), Value::make_bool(v)); }
void GgufWriter::set_string(std::string key, std::string v) { set(std::move(key), Value::make_string(std::move(v))); }

void GgufWriter::set_string_array(std::string key, const std::vector<std::string>& v) {
    Array array{ValueType::STRING, {}};
    array.items.reserve(v.size());
    for (const auto& s : v) array.items.push_back(Value::make_string(s));
    set(std::move(key), Value::make_array(std::move(array)));
}

void GgufWriter::set_float32_array(std::string key, const std::vector<float>& v) {
    Array array{ValueType::FLOAT32, {}};
    array.items.reserve(v.size());
    for (float f : v) array.items.push_back(Value::make_float(ValueType::FLOAT32, f));
    set(std::move(key), Value::make_array(std::move(array)));
}

void GgufWriter::set_int32_array(std::string key, const std::vector<int32_t>& v) {
    Array array{ValueType::INT32, {}};
    array.items.reserve(v.size());
    for (int32_t i : v) array.items.push_back(Value::make_int(ValueType::INT32, i));
    set(std::move(key), Value::make_array(std::move(array)));
}

void GgufWriter::copy_metadata(const GgufFile& source, std::string_view prefix) {
    for (const auto& [key, value] : source.metadata()) {
        if (key == kAlignmentKey || key.compare(0, prefix.size(), prefix) != 0) continue;
        set(key, value);
    }
}

void GgufWriter::check_new_tensor(const std::string& name, TensorType type, const std::vector<int64_t>& dims,
                                  uint64_t* n_bytes) const {
    const auto fail = [&](std::string_view problem) {
        throw Error(fmt::format("GgufWriter: tensor '{}': {}", name, problem));
    };
    if (name.empty() || name.size() > kMaxTensorName) fail(fmt::format("name must be 1..{} bytes", kMaxTensorName));
    for (const auto& t : tensors_) {
        if (t.name == name) fail("added twice");
    }
    const auto traits = tensor_type_traits(static_cast<uint32_t>(type));
    if (!traits) fail(fmt::format("unknown type id {}", static_cast<uint32_t>(type)));
    if (dims.empty() || dims.size() > 4) fail(fmt::format("{} dimensions (need 1..4)", dims.size()));
    int64_t n_elements = 1;
    for (int64_t d : dims) {
        if (d < 1 || __builtin_mul_overflow(n_elements, d, &n_elements)) fail("invalid dimensions");
    }
    if (dims[0] % traits->block_size != 0) {
        fail(fmt::format("row length {} is not a multiple of the {} block size {}", dims[0], traits->name,
                         traits->block_size));
    }
    if (__builtin_mul_overflow(static_cast<uint64_t>(tensor_row_size(type, dims[0])),
                               static_cast<uint64_t>(n_elements / dims[0]), n_bytes)) {
        fail("byte size overflows");
    }
}

void GgufWriter::add_tensor(std::string name, TensorType type, std::vector<int64_t> dims,
                            std::span<const uint8_t> data) {
    uint64_t expected = 0;
    check_new_tensor(name, type, dims, &expected);
    if (data.size() != expected) {
        throw Error(fmt::format("GgufWriter: tensor '{}': {} bytes of data given, {} expected", name, data.size(), expected));
    }
    tensors_.push_back({std::move(name), type, std::move(dims), std::vector<uint8_t>(data.begin(), data.end()), expected, false});
}

void GgufWriter::declare_tensor(std::string name, TensorType type, std::vector<int64_t> dims) {
    uint64_t n_bytes = 0;
    check_new_tensor(name, type, dims, &n_bytes);
    tensors_.push_back({std::move(name), type, std::move(dims), {}, n_bytes, true});
}

std::vector<uint8_t> GgufWriter::header_bytes() const {
    ByteSink out;
    const bool record_alignment = alignment_ != kDefaultAlignment;
    out.put<uint32_t>(0x46554747);  // "GGUF" as a little-endian u32
    out.put<uint32_t>(3);
    out.put<uint64_t>(tensors_.size());
    out.put<uint64_t>(metadata_.size() + (record_alignment ? 1 : 0));
    if (record_alignment) {
        out.put_string(kAlignmentKey);
        out.put(static_cast<uint32_t>(ValueType::UINT32));
        out.put<uint32_t>(alignment_);
    }
    for (const auto& [key, value] : metadata_) {
        out.put_string(key);
        out.put(static_cast<uint32_t>(value.type));
        put_value(out, value, fmt::format("GgufWriter: key '{}'", key), 0);
    }

    uint64_t offset = 0;
    for (const auto& t : tensors_) {
        out.put_string(t.name);
        out.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
        for (int64_t d : t.dims) out.put<uint64_t>(static_cast<uint64_t>(d));
        out.put(static_cast<uint32_t>(t.type));
        out.put<uint64_t>(offset);
        offset += (t.n_bytes + alignment_ - 1) / alignment_ * alignment_;
    }
    out.pad_to(alignment_);
    return std::move(out.bytes);
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
    ByteSink out;
    out.bytes = header_bytes();
    for (const auto& t : tensors_) {
        if (t.declared) throw Error(fmt::format("GgufWriter: tensor '{}' was declared without data: use write_streaming", t.name));
        out.put_raw(t.data.data(), t.data.size());
        out.pad_to(alignment_);
    }
    return std::move(out.bytes);
}

namespace {

// PATH.tmp, removed again unless commit() renames it into place.
class TempFile {
public:
    explicit TempFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
        file_ = std::fopen(tmp_.c_str(), "wb");
        if (file_ == nullptr) throw Error(fmt::format("{}: cannot create: {}", tmp_, std::strerror(errno)));
    }
    ~TempFile() {
        if (file_ != nullptr) std::fclose(file_);
        if (!committed_) std::remove(tmp_.c_str());
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    void put(const void* data, size_t n) {
        if (n == 0) return;
        if (std::fwrite(data, 1, n, file_) != n) {
            throw Error(fmt::format("{}: write failed after {} bytes: {}", tmp_, written_, std::strerror(errno)));
        }
        written_ += n;
    }
    void pad_to(uint64_t alignment) {
        static const uint8_t zeros[64] = {};
        while (written_ % alignment != 0) put(zeros, std::min<uint64_t>(sizeof(zeros), alignment - written_ % alignment));
    }
    void commit() {
        const bool closed = std::fclose(file_) == 0;
        file_ = nullptr;
        if (!closed) throw Error(fmt::format("{}: write failed: {}", tmp_, std::strerror(errno)));
        if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
            throw Error(fmt::format("{}: cannot rename {} into place: {}", path_, tmp_, std::strerror(errno)));
        }
        committed_ = true;
    }

private:
    std::string path_, tmp_;
    std::FILE* file_ = nullptr;
    uint64_t written_ = 0;
    bool committed_ = false;
};

}  // namespace

void GgufWriter::write(const std::string& path) const {
    const std::vector<uint8_t> bytes = to_bytes();
    TempFile out(path);
    out.put(bytes.data(), bytes.size());
    out.commit();
}

void GgufWriter::write_streaming(const std::string& path, const TensorFiller& fill) const {
    const std::vector<uint8_t> header = header_bytes();
    TempFile out(path);
    out.put(header.data(), header.size());
    std::vector<uint8_t> buffer;
    for (size_t i = 0; i < tensors_.size(); ++i) {
        const PendingTensor& t = tensors_[i];
        if (t.declared) {
            buffer.resize(t.n_bytes);
            fill(i, buffer);
            out.put(buffer.data(), buffer.size());
        } else {
            out.put(t.data.data(), t.data.size());
        }
        out.pad_to(alignment_);
    }
    out.commit();
}

}  // namespace peregrine::gguf
