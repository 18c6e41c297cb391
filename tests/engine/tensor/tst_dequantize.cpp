// Block decoders against ggml's own output: for every type in ggml-quant-reference.gguf, decoding the
// tensor `<type>` must give the F32 tensor `<type>.dequant` (ggml's to_float of those bytes) bit for bit.
#include <QtTest>

#include <cstring>
#include <vector>

#include "kernels/cpu/dequantize.h"
#include "kernels/cpu/quant_blocks.h"
#include "kernels/cpu/row_checks.h"
#include "peregrine/gguf.h"
#include "peregrine/tensor_type.h"
#include "support/test_paths.h"

using namespace peregrine;
using namespace peregrine::kernels::cpu;

namespace {

const gguf::GgufFile& reference_file() {
    static const auto file = gguf::GgufFile::open(test::model_path("ggml-quant-reference.gguf"));
    return *file;
}

const gguf::TensorInfo& tensor(const std::string& name) {
    const gguf::TensorInfo* t = reference_file().find_tensor(name);
    if (t == nullptr) throw std::runtime_error("ggml-quant-reference.gguf has no tensor " + name);
    return *t;
}

uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

}  // namespace

class TestDequantize : public QObject {
    Q_OBJECT

private slots:
    void matchesGgmlBitForBit_data() {
        QTest::addColumn<int>("type");
        for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1,
                             TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K, TensorType::Q3_K,
                             TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K, TensorType::IQ4_NL,
                             TensorType::IQ4_XS}) {
            QTest::newRow(std::string(tensor_type_name(t)).c_str()) << static_cast<int>(t);
        }
    }

    void matchesGgmlBitForBit() {
        QFETCH(int, type);
        const auto tt = static_cast<TensorType>(type);
        const std::string name(tensor_type_name(tt));
        const gguf::TensorInfo& quant = tensor(name);
        const gguf::TensorInfo& expected = tensor(name + ".dequant");
        QCOMPARE(static_cast<int>(quant.type), type);
        QCOMPARE(expected.type, TensorType::F32);
        QCOMPARE(quant.dims, expected.dims);
        QCOMPARE(quant.dims.size(), size_t{2});

        const int64_t n_cols = quant.dims[0];
        const int64_t n_rows = quant.dims[1];
        const size_t row_bytes = tensor_row_size(tt, n_cols);
        QCOMPARE(quant.n_bytes, row_bytes * static_cast<size_t>(n_rows));

        std::vector<float> row(static_cast<size_t>(n_cols));
        const auto* want = reinterpret_cast<const float*>(expected.data);
        int mismatches = 0;
        for (int64_t r = 0; r < n_rows; ++r) {
            dequantize_row(tt, quant.data + r * row_bytes, row.data(), n_cols);
            for (int64_t c = 0; c < n_cols; ++c) {
                const float w = want[r * n_cols + c];
                if (bits(row[c]) != bits(w)) {
                    if (mismatches++ < 5) {
                        qWarning("%s row %lld col %lld: got %.9g (0x%08x), ggml %.9g (0x%08x)", name.c_str(),
                                 static_cast<long long>(r), static_cast<long long>(c), row[c], bits(row[c]), w, bits(w));
                    }
                }
            }
        }
        QCOMPARE(mismatches, 0);
    }

    // The kernels keep their own copy of the block geometry (row_checks.h) to stay independent of the
    // engine library; it must agree with tensor_type.cpp, which the GGUF reader sizes tensors with.
    void blockShapesAgreeWithTensorTypeTable() {
        for (uint32_t id = 0; id < 64; ++id) {
            const auto traits = tensor_type_traits(id);
            const BlockShape shape = block_shape(static_cast<TensorType>(id));
            if (!traits) {
                QCOMPARE(shape.block_size, int64_t{0});
                continue;
            }
            QCOMPARE(shape.block_size, traits->block_size);
            QCOMPARE(shape.type_size, traits->type_size);
            QCOMPARE(std::string_view(shape.name), traits->name);
            QVERIFY(can_dequantize(static_cast<TensorType>(id)));
        }
    }

    void rejectsPartialBlocksAndUnknownTypes() {
        std::vector<uint8_t> src(1024, 0);
        std::vector<float> dst(1024);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, dequantize_row(TensorType::Q4_0, src.data(), dst.data(), 33));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, dequantize_row(TensorType::Q4_K, src.data(), dst.data(), 32));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, dequantize_row(TensorType::F32, src.data(), dst.data(), -1));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument,
                                 dequantize_row(static_cast<TensorType>(4), src.data(), dst.data(), 32));
        QVERIFY(!can_dequantize(static_cast<TensorType>(4)));
        dequantize_row(TensorType::Q4_0, src.data(), dst.data(), 0);  // an empty row is fine
    }

    // Spot checks that do not depend on the reference file: fields land where the layout says.
    void decodesHandBuiltBlocks() {
        // Q4_0 with d = 0.5 (fp16 0x3800): value j is ((nibble) - 8) * 0.5.
        BlockQ4_0 q4{};
        q4.d = 0x3800;
        q4.qs[0] = 0x1F;  // element 0 -> nibble 15 -> 3.5, element 16 -> nibble 1 -> -3.5
        float out[256];
        dequantize_row(TensorType::Q4_0, &q4, out, 32);
        QCOMPARE(out[0], 3.5f);
        QCOMPARE(out[16], -3.5f);
        QCOMPARE(out[1], -4.0f);

        // Q8_K: fp32 scale, signed values.
        BlockQ8_K q8k{};
        q8k.d = 0.25f;
        q8k.qs[0] = -128;
        q8k.qs[255] = 127;
        dequantize_row(TensorType::Q8_K, &q8k, out, 256);
        QCOMPARE(out[0], -32.0f);
        QCOMPARE(out[255], 31.75f);
        QCOMPARE(out[1], 0.0f);
    }
};

QTEST_GUILESS_MAIN(TestDequantize)
#include "tst_dequantize.moc"
