// quantize_model: a GGUF of F32/F16/BF16 weights rewritten with the types QuantPlan chooses, one tensor
// at a time (the source stays memory-mapped; only the tensor being written is held converted).
#include <algorithm>
#include <atomic>
#include <thread>

#include <fmt/format.h>

#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/quantize.h"
#include "peregrine/error.h"
#include "peregrine/gguf.h"
#include "peregrine/quantize_model.h"

namespace peregrine {
namespace {

bool is_float(TensorType t) { return t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16; }

// Converts rows [begin, end) of `src` (type `from`) into `dst` (type `to`), through f32.
void convert_rows(const gguf::TensorInfo& src, TensorType to, uint8_t* dst, int64_t begin, int64_t end) {
    const int64_t n = src.dims[0];
    const size_t src_row = tensor_row_size(src.type, n);
    const size_t dst_row = tensor_row_size(to, n);
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t r = begin; r < end; ++r) {
        kernels::cpu::dequantize_row(src.type, src.data + static_cast<size_t>(r) * src_row, row.data(), n);
        kernels::cpu::quantize_row_reference(to, row.data(), dst + static_cast<size_t>(r) * dst_row, n);
    }
}

}  // namespace

void quantize_model(const std::string& in_path, const std::string& out_path, QuantScheme scheme, int n_threads,
                    const std::function<void(const QuantizeProgress&)>& progress) {
    if (in_path == out_path) throw InvalidRequestError("quantize: the output must be another file than " + in_path);
    const auto in = gguf::GgufFile::open(in_path);
    const std::string arch = in->get_string_or("general.architecture", "");
    const int64_t n_layer = in->get_int_or(arch + ".block_count", 0);
    const bool has_output = in->find_tensor("output.weight") != nullptr;
    const QuantPlan plan(scheme, static_cast<int>(n_layer), has_output, true);

    gguf::GgufWriter writer(in->alignment());
    for (const auto& [key, value] : in->metadata()) {
        if (key == "general.alignment" || key == "general.file_type" || key == "general.quantization_version") continue;
        writer.set(key, value);
    }
    if (const auto ft = quant_scheme_file_type(scheme)) writer.set_uint32("general.file_type", *ft);
    if (tensor_type_traits(quant_scheme_base_type(scheme)).quantized) writer.set_uint32("general.quantization_version", 2);

    std::vector<TensorType> types;
    uint64_t bytes_total = 0;
    for (const auto& t : in->tensors()) {
        const TensorType to = plan.type_for(t.name, t.dims, t.type);
        if (to != t.type && !is_float(t.type)) {
            throw InvalidRequestError(fmt::format("{}: tensor '{}' is {}; quantize needs F32, F16 or BF16 weights",
                                                  in_path, t.name, tensor_type_name(t.type)));
        }
        types.push_back(to);
        writer.declare_tensor(t.name, to, t.dims);
        bytes_total += t.n_bytes;
    }

    const int threads = n_threads > 0 ? n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    uint64_t bytes_done = 0;
    writer.write_streaming(out_path, [&](size_t index, std::span<uint8_t> data) {
        const gguf::TensorInfo& src = in->tensors()[index];
        const TensorType to = types[index];
        if (to == src.type) {
            std::copy_n(src.data, src.n_bytes, data.data());
        } else {
            const int64_t rows = src.n_elements / src.dims[0];
            const int nth = static_cast<int>(std::min<int64_t>(threads, rows));
            std::vector<std::thread> workers;
            std::exception_ptr error;
            std::atomic<bool> failed{false};
            const auto work = [&](int ith) {
                try {
                    convert_rows(src, to, data.data(), rows * ith / nth, rows * (ith + 1) / nth);
                } catch (...) {
                    if (!failed.exchange(true)) error = std::current_exception();
                }
            };
            for (int ith = 1; ith < nth; ++ith) workers.emplace_back(work, ith);
            work(0);
            for (auto& w : workers) w.join();
            if (error) std::rethrow_exception(error);
        }
        bytes_done += src.n_bytes;
        if (progress) progress({index, in->tensors().size(), src.name, to, bytes_done, bytes_total});
    });
}

}  // namespace peregrine
