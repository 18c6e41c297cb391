#include "kernels/cpu/get_rows.h"

#include <stdexcept>
#include <string>

#include "kernels/cpu/dequantize.h"

namespace peregrine::kernels::cpu {

void get_row(TensorType type, const uint8_t* data, size_t row_bytes, int64_t n_rows, int64_t n_cols,
             int64_t row, float* out) {
    if (row < 0 || row >= n_rows) {
        throw std::invalid_argument("get_row: row " + std::to_string(row) + " is outside [0, " +
                                    std::to_string(n_rows) + ")");
    }
    dequantize_row(type, data + static_cast<size_t>(row) * row_bytes, out, n_cols);
}

}  // namespace peregrine::kernels::cpu
