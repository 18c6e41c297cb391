// GGUF reader and writer.
//
// File layout (little-endian), versions 2 and 3:
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x  { string key | u32 value_type | value }
//   n_tensors x { string name | u32 n_dims | u64 dims[n_dims] (ne0 = row length first) | u32 type | u64 offset }
//   padding to `general.alignment` (default 32)
//   tensor data; each tensor's offset is relative to the start of this section and aligned.
// string = u64 length + bytes (no terminator). array = u32 element type + u64 count + elements.
//
// The reader maps the file read-only and checks every count, length and offset against the file size
// before it uses it, so a truncated or hostile file ends in a GgufError naming the file, the field or
// tensor and the byte offset, never in a crash or a huge allocation. It also rejects: versions other
// than 2 and 3, duplicate keys or tensor names, bools other than 0/1, arrays nested deeper than
// kMaxArrayNesting, general.alignment that is not a u32 power of two, n_dims outside 1..4, dims < 1,
// element or byte counts that overflow, unknown tensor types, rows that are not whole blocks,
// misaligned tensor offsets and tensor data outside the file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "peregrine/error.h"
#include "peregrine/tensor_type.h"

namespace peregrine::gguf {

// Arrays may hold arrays; the reader refuses deeper nesting than this (real files use at most 1).
inline constexpr int kMaxArrayNesting = 8;
// Used when the file has no general.alignment key.
inline constexpr uint32_t kDefaultAlignment = 32;

enum class ValueType : uint32_t {
    UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
    BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
std::string_view value_type_name(ValueType type);

struct Value;
struct Array {
    ValueType element_type = ValueType::UINT8;
    std::vector<Value> items;
};

// One metadata value. Integers keep their signedness; the getters below convert with range checks.
struct Value {
    ValueType type = ValueType::UINT8;
    std::variant<uint64_t, int64_t, double, bool, std::string, Array> data;

    bool is_integer() const;
    bool is_array() const { return type == ValueType::ARRAY; }
    // Each throws GgufError (naming `what`) if the value is not of a compatible type or out of range.
    int64_t to_int64(std::string_view what) const;
    uint64_t to_uint64(std::string_view what) const;
    double to_double(std::string_view what) const;
    bool to_bool(std::string_view what) const;
    const std::string& to_string(std::string_view what) const;
    const Array& to_array(std::string_view what) const;

    // Builders that pick the right variant alternative (e.g. Value::make_uint(ValueType::UINT16, 7)).
    static Value make_uint(ValueType type, uint64_t v);   // UINT8/16/32/64
    static Value make_int(ValueType type, int64_t v);     // INT8/16/32/64
    static Value make_float(ValueType type, double v);    // FLOAT32/64
    static Value make_bool(bool v);
    static Value make_string(std::string v);
    static Value make_array(Array v);
};

struct TensorInfo {
    std::string name;
    std::vector<int64_t> dims;   // ne0 (contiguous row length) first
    TensorType type = TensorType::F32;
    uint64_t offset = 0;         // relative to the data section
    uint64_t n_bytes = 0;
    int64_t n_elements = 0;
    const uint8_t* data = nullptr;  // points into the mapping; valid while the GgufFile lives
};

class GgufFile {
public:
    // Maps and validates the file. Throws GgufError with file name, field/tensor and offset.
    static std::unique_ptr<GgufFile> open(const std::string& path);
    // Parses an in-memory image (the bytes are copied); `name` is used in error messages.
    static std::unique_ptr<GgufFile> from_bytes(std::span<const uint8_t> bytes, std::string name);

    ~GgufFile();
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t file_size() const { return size_; }
    uint64_t data_offset() const { return data_offset_; }
    uint32_t alignment() const { return alignment_; }

    // Metadata in file order.
    const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
    const Value* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }

    // Typed lookups. The *_or forms return the fallback when the key is absent and throw GgufError
    // when it is present with an incompatible type; the plain forms throw when the key is absent.
    std::string get_string(std::string_view key) const;
    std::string get_string_or(std::string_view key, std::string fallback) const;
    int64_t get_int(std::string_view key) const;
    int64_t get_int_or(std::string_view key, int64_t fallback) const;
    double get_float_or(std::string_view key, double fallback) const;
    bool get_bool_or(std::string_view key, bool fallback) const;
    // Arrays: throw if the key is present but is not an array of a compatible element type.
    std::vector<std::string> get_string_array(std::string_view key) const;   // empty if absent
    std::vector<float> get_float_array(std::string_view key) const;          // empty if absent
    std::vector<int64_t> get_int_array(std::string_view key) const;          // empty if absent

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;

private:
    GgufFile() = default;
    void parse();
    // "<file>: key '<key>' at offset <n>", the context of a metadata conversion error.
    std::string describe_key(std::string_view key) const;

    std::string path_;
    uint32_t version_ = 0;
    uint64_t size_ = 0;
    uint64_t data_offset_ = 0;
    uint32_t alignment_ = kDefaultAlignment;
    const uint8_t* base_ = nullptr;
    void* mapping_ = nullptr;            // mmap'd region, or null when the bytes are owned
    std::vector<uint8_t> owned_;         // from_bytes image
    std::vector<std::pair<std::string, Value>> metadata_;
    std::vector<uint64_t> metadata_offsets_;  // file offset of each entry, for error messages
    std::map<std::string, size_t, std::less<>> metadata_index_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Builds a GGUF file (version 3). Used by tests, make-model and quantize.
class GgufWriter {
public:
    // The alignment must be a power of two; anything but 32 is recorded as general.alignment.
    explicit GgufWriter(uint32_t alignment = kDefaultAlignment);

    void set(std::string key, Value value);  // replaces an existing key, keeps first position
    // general.alignment is owned by the writer (constructor argument) and cannot be set or copied.
    void set_uint32(std::string key, uint32_t v);
    void set_int32(std::string key, int32_t v);
    void set_uint64(std::string key, uint64_t v);
    void set_float32(std::string key, float v);
    void set_bool(std::string key, bool v);
    void set_string(std::string key, std::string v);
    void set_string_array(std::string key, const std::vector<std::string>& v);
    void set_float32_array(std::string key, const std::vector<float>& v);
    void set_int32_array(std::string key, const std::vector<int32_t>& v);
    // Copies every metadata key of `source` (e.g. a tokenizer), optionally only those with a prefix.
    void copy_metadata(const GgufFile& source, std::string_view prefix = {});

    // `data` must hold exactly tensor_row_size(type, dims[0]) * rows bytes.
    void add_tensor(std::string name, TensorType type, std::vector<int64_t> dims,
                    std::span<const uint8_t> data);
    // A tensor whose data write_streaming() asks for when it reaches it, so a large model is never held in
    // memory (make-model, quantize). Same checks as add_tensor.
    void declare_tensor(std::string name, TensorType type, std::vector<int64_t> dims);

    std::vector<uint8_t> to_bytes() const;      // throws Error if a tensor was only declared
    void write(const std::string& path) const;  // writes PATH.tmp then renames; throws Error

    // Fills `data` (exactly the tensor's byte size) with the data of declared tensor `index` (its position
    // among all tensors, in the order they were added or declared).
    using TensorFiller = std::function<void(size_t index, std::span<uint8_t> data)>;
    // Like write(), streaming each declared tensor's data from `fill` through one reused buffer, in
    // order. If `fill` throws, the partial PATH.tmp is removed and the exception propagates.
    void write_streaming(const std::string& path, const TensorFiller& fill) const;

private:
    struct PendingTensor {
        std::string name;
        TensorType type;
        std::vector<int64_t> dims;
        std::vector<uint8_t> data;
        uint64_t n_bytes = 0;
        bool declared = false;  // data comes from write_streaming's filler
    };
    void check_new_tensor(const std::string& name, TensorType type, const std::vector<int64_t>& dims,
                          uint64_t* n_bytes) const;
    std::vector<uint8_t> header_bytes() const;  // everything up to (and padding before) the tensor data
    uint32_t alignment_;
    std::vector<std::pair<std::string, Value>> metadata_;
    std::vector<PendingTensor> tensors_;
};

}  // namespace peregrine::gguf
