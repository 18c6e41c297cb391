#include "kernels/cpu/rope.h"

#include <cmath>

namespace peregrine::kernels::cpu {

void rope_angles(const RopeConfig& config, int32_t pos, float* cos_sin) {
    const float theta_scale = std::pow(config.freq_base, -2.0f / static_cast<float>(config.n_rot));
    float theta_base = static_cast<float>(pos);
    for (int i = 0; i < config.n_rot / 2; ++i) {
        const float ff = config.freq_factors != nullptr ? config.freq_factors[i] : 1.0f;
        const float theta = config.freq_scale * (theta_base / ff);
        cos_sin[2 * i] = std::cos(theta);
        cos_sin[2 * i + 1] = std::sin(theta);
        theta_base *= theta_scale;
    }
}

void rope_apply(const RopeConfig& config, const float* cos_sin, float* x, int n_heads, int head_dim) {
    const int half = config.n_rot / 2;
    for (int h = 0; h < n_heads; ++h) {
        float* head = x + static_cast<int64_t>(h) * head_dim;
        for (int i = 0; i < half; ++i) {
            const float c = cos_sin[2 * i];
            const float s = cos_sin[2 * i + 1];
            const int a = config.neox ? i : 2 * i;
            const int b = config.neox ? i + half : 2 * i + 1;
            const float x0 = head[a];
            const float x1 = head[b];
            // the first product of each line is fused with the addition (see rope.h)
            head[a] = std::fma(x0, c, -(x1 * s));
            head[b] = std::fma(x0, s, x1 * c);
        }
    }
}

}  // namespace peregrine::kernels::cpu
