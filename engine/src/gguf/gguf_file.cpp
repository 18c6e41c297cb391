// GgufFile: maps a GGUF file and validates all of it up front, so later code can trust every
// tensor's shape, type and byte range.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gguf/byte_cursor.h"
#include "peregrine/gguf.h"
#include "peregrine/log.h"

namespace peregrine::gguf {
namespace {

using detail::ByteCursor;
using detail::printable;

constexpr uint32_t kMaxDims = 4;
constexpr uint32_t kMaxValueType = static_cast<uint32_t>(ValueType::FLOAT64);

// The fewest bytes one encoded value of `type` can take; used to reject counts the file cannot hold.
uint64_t min_encoded_size(ValueType type) {
    switch (type) {
        case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
        case ValueType::UINT16: case ValueType::INT16: return 2;
        case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
        case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
        case ValueType::STRING: return 8;        // length only
        case ValueType::ARRAY: return 4 + 8;     // element type + count
    }
    return 1;
}
// key (u64 length) + value type (u32) + smallest value (1 byte).
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
// name length + n_dims + one dim + type + offset.
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

ValueType read_value_type(ByteCursor& c, std::string_view field) {
    const uint64_t at = c.pos();
    const auto raw = c.read<uint32_t>(field);
    if (raw > kMaxValueType) c.fail(at, field, fmt::format("unknown value type {}", raw));
    return static_cast<ValueType>(raw);
}

Value read_value(ByteCursor& c, ValueType type, int depth) {
    switch (type) {
        case ValueType::UINT8: return Value::make_uint(type, c.read<uint8_t>("value"));
        case ValueType::UINT16: return Value::make_uint(type, c.read<uint16_t>("value"));
        case ValueType::UINT32: return Value::make_uint(type, c.read<uint32_t>("value"));
        case ValueType::UINT64: return Value::make_uint(type, c.read<uint64_t>("value"));
        case ValueType::INT8: return Value::make_int(type, c.read<int8_t>("value"));
        case ValueType::INT16: return Value::make_int(type, c.read<int16_t>("value"));
        case ValueType::INT32: return Value::make_int(type, c.read<int32_t>("value"));
        case ValueType::INT64: return Value::make_int(type, c.read<int64_t>("value"));
        case ValueType::FLOAT32: return Value::make_float(type, c.read<float>("value"));
        case ValueType::FLOAT64: return Value::make_float(type, c.read<double>("value"));
        case ValueType::BOOL: {
            const uint64_t at = c.pos();
            const auto b = c.read<uint8_t>("value");
            if (b > 1) c.fail(at, "bool value", fmt::format("byte {} is neither 0 nor 1", b));
            return Value::make_bool(b == 1);
        }
        case ValueType::STRING: return Value::make_string(std::string(c.read_string("string value")));
        case ValueType::ARRAY: {
            const uint64_t at = c.pos();
            if (depth >= kMaxArrayNesting) {
                c.fail(at, "array", fmt::format("arrays nested deeper than {} levels", kMaxArrayNesting));
            }
            Array array;
            array.element_type = read_value_type(c, "array element type");
            const uint64_t count_at = c.pos();
            const auto count = c.read<uint64_t>("array length");
            const uint64_t min_size = min_encoded_size(array.element_type);
            if (count > c.remaining() / min_size) {
                c.fail(count_at, "array length",
                       fmt::format("{} items of {} need at least {} bytes each, but only {} bytes remain", count,
                                   value_type_name(array.element_type), min_size, c.remaining()));
            }
            array.items.reserve(static_cast<size_t>(count));
            for (uint64_t i = 0; i < count; ++i) array.items.push_back(read_value(c, array.element_type, depth + 1));
            return Value::make_array(std::move(array));
        }
    }
    c.fail(c.pos(), "value", "unknown value type");
}

uint64_t align_up(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

std::string dims_text(const std::vector<int64_t>& dims) { return fmt::format("[{}]", fmt::join(dims, ", ")); }

}  // namespace

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
    std::unique_ptr<GgufFile> file(new GgufFile());
    file->path_ = path;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw GgufError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw GgufError(fmt::format("{}: cannot stat: {}", path, std::strerror(err)));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw GgufError(fmt::format("{}: not a regular file{}", path, S_ISDIR(st.st_mode) ? " (a directory)" : ""));
    }
    file->size_ = static_cast<uint64_t>(st.st_size);
    if (file->size_ > 0) {
        // Private read-only mapping: pages come from the page cache, nothing is copied up front.
        void* map = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw GgufError(fmt::format("{}: cannot map {} bytes: {}", path, file->size_, std::strerror(err)));
        }
        file->mapping_ = map;
        file->base_ = static_cast<const uint8_t*>(map);
    }
    ::close(fd);
    file->parse();
    return file;
}

std::unique_ptr<GgufFile> GgufFile::from_bytes(std::span<const uint8_t> bytes, std::string name) {
    std::unique_ptr<GgufFile> file(new GgufFile());
    file->path_ = std::move(name);
    file->owned_.assign(bytes.begin(), bytes.end());
    file->base_ = file->owned_.data();
    file->size_ = file->owned_.size();
    file->parse();
    return file;
}

GgufFile::~GgufFile() {
    if (mapping_ != nullptr) ::munmap(mapping_, size_);
}

void GgufFile::parse() {
    ByteCursor c(base_, size_, path_);

    // Header.
    c.require(4, "magic");
    if (std::memcmp(c.at(0), "GGUF", 4) != 0) {
        c.fail(0, "magic", fmt::format("expected \"GGUF\", found bytes {:02x}", fmt::join(c.at(0), c.at(4), " ")));
    }
    c.read<uint32_t>("magic");
    const auto version = c.read<uint32_t>("version");
    if (version != 2 && version != 3) {
        const uint32_t swapped = __builtin_bswap32(version);
        if (swapped == 2 || swapped == 3) c.fail(4, "version", "big-endian GGUF files are not supported");
        if (version == 1) c.fail(4, "version", "GGUF version 1 is obsolete and not supported (need 2 or 3)");
        c.fail(4, "version", fmt::format("unsupported GGUF version {} (need 2 or 3)", version));
    }
    version_ = version;
    const auto n_tensors = c.read<uint64_t>("tensor count");
    const auto n_kv = c.read<uint64_t>("metadata count");
    if (n_kv > c.remaining() / kMinKvBytes) {
        c.fail(16, "metadata count",
               fmt::format("{} entries cannot fit in the {} bytes left in the file", n_kv, c.remaining()));
    }
    if (n_tensors > c.remaining() / kMinTensorInfoBytes) {
        c.fail(8, "tensor count",
               fmt::format("{} tensor infos cannot fit in the {} bytes left in the file", n_tensors, c.remaining()));
    }

    // Metadata.
    metadata_.reserve(static_cast<size_t>(n_kv));
    metadata_offsets_.reserve(static_cast<size_t>(n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) {
        const uint64_t entry_at = c.pos();
        c.set_subject(fmt::format("metadata entry #{}", i));
        std::string key(c.read_string("key"));
        c.set_subject(fmt::format("key '{}'", printable(key)));
        if (metadata_index_.count(key) != 0) c.fail(entry_at, "", "duplicate key");
        const ValueType type = read_value_type(c, "value type");
        Value value = read_value(c, type, 0);
        metadata_index_.emplace(key, metadata_.size());
        metadata_.emplace_back(std::move(key), std::move(value));
        metadata_offsets_.push_back(entry_at);
    }

    if (const Value* v = find("general.alignment")) {
        const uint64_t at = metadata_offsets_[metadata_index_.find("general.alignment")->second];
        c.set_subject("key 'general.alignment'");
        if (v->type != ValueType::UINT32) {
            c.fail(at, "", fmt::format("must be a u32, found {}", value_type_name(v->type)));
        }
        const uint64_t a = std::get<uint64_t>(v->data);
        if (a == 0 || (a & (a - 1)) != 0) c.fail(at, "", fmt::format("alignment {} is not a power of two", a));
        alignment_ = static_cast<uint32_t>(a);
    }

    // Tensor infos.
    if (n_tensors > c.remaining() / kMinTensorInfoBytes) {
        c.set_subject("");
        c.fail(8, "tensor count",
               fmt::format("{} tensor infos cannot fit in the {} bytes left after the metadata", n_tensors,
                           c.remaining()));
    }
    tensors_.reserve(static_cast<size_t>(n_tensors));
    std::vector<uint64_t> info_offsets;
    info_offsets.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        const uint64_t info_at = c.pos();
        c.set_subject(fmt::format("tensor #{}", i));
        TensorInfo t;
        t.name = std::string(c.read_string("name"));
        c.set_subject(fmt::format("tensor '{}'", printable(t.name)));
        if (tensor_index_.count(t.name) != 0) c.fail(info_at, "", "duplicate tensor name");

        const uint64_t n_dims_at = c.pos();
        const auto n_dims = c.read<uint32_t>("n_dims");
        if (n_dims < 1 || n_dims > kMaxDims) {
            c.fail(n_dims_at, "n_dims", fmt::format("{} is outside 1..{}", n_dims, kMaxDims));
        }
        int64_t n_elements = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t dim_at = c.pos();
            const auto raw = c.read<uint64_t>("dims");
            if (raw < 1 || raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
                c.fail(dim_at, fmt::format("dims[{}]", d), fmt::format("{} is not a valid size (need 1..2^63-1)", raw));
            }
            t.dims.push_back(static_cast<int64_t>(raw));
            if (__builtin_mul_overflow(n_elements, static_cast<int64_t>(raw), &n_elements)) {
                c.fail(dim_at, fmt::format("dims[{}]", d), "the element count overflows int64");
            }
        }
        t.n_elements = n_elements;

        const uint64_t type_at = c.pos();
        const auto raw_type = c.read<uint32_t>("type");
        const auto traits = tensor_type_traits(raw_type);
        if (!traits) c.fail(type_at, "type", fmt::format("unknown tensor type id {}", raw_type));
        t.type = static_cast<TensorType>(raw_type);
        if (t.dims[0] % traits->block_size != 0) {
            c.fail(info_at, "",
                   fmt::format("row length {} is not a multiple of the {}-element block of {}", t.dims[0],
                               traits->block_size, traits->name));
        }
        const uint64_t blocks_per_row = static_cast<uint64_t>(t.dims[0] / traits->block_size);
        const uint64_t rows = static_cast<uint64_t>(n_elements / t.dims[0]);
        uint64_t row_bytes = 0;
        if (__builtin_mul_overflow(blocks_per_row, uint64_t{traits->type_size}, &row_bytes) ||
            __builtin_mul_overflow(row_bytes, rows, &t.n_bytes)) {
            c.fail(info_at, "", fmt::format("byte size of {} {} overflows", traits->name, dims_text(t.dims)));
        }

        const uint64_t offset_at = c.pos();
        t.offset = c.read<uint64_t>("data offset");
        if (t.offset % alignment_ != 0) {
            c.fail(offset_at, "data offset",
                   fmt::format("{} is not a multiple of the alignment {}", t.offset, alignment_));
        }
        tensor_index_.emplace(t.name, tensors_.size());
        tensors_.push_back(std::move(t));
        info_offsets.push_back(info_at);
    }

    // Tensor data: starts at the next alignment boundary; every tensor must lie inside the file.
    data_offset_ = align_up(c.pos(), alignment_);
    for (size_t i = 0; i < tensors_.size(); ++i) {
        TensorInfo& t = tensors_[i];
        c.set_subject(fmt::format("tensor '{}'", printable(t.name)));
        const uint64_t space = size_ > data_offset_ ? size_ - data_offset_ : 0;
        if (t.offset > space || t.n_bytes > space - t.offset) {
            // 128-bit for the message only: offset and size may each be near 2^64.
            const auto begin = static_cast<unsigned __int128>(data_offset_) + t.offset;
            const auto end = begin + t.n_bytes;
            c.fail(info_offsets[i], "",
                   fmt::format("{} {} data [{}, {}) lies outside the file (size {})", tensor_type_name(t.type),
                               dims_text(t.dims), begin, end, size_));
        }
        t.data = base_ + data_offset_ + t.offset;
    }
    log_debug("{}: GGUF v{}, {} metadata keys, {} tensors, data at {} (alignment {})", path_, version_,
              metadata_.size(), tensors_.size(), data_offset_, alignment_);
}

const Value* GgufFile::find(std::string_view key) const {
    const auto it = metadata_index_.find(key);
    return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace peregrine::gguf
