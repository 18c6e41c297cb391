// The "speed trade-offs" settings as one value type, read from and written to QSettings. Split into what
// needs the model reloaded (LoadOptions) and what applies to the next reply (GenerationOptions).
#pragma once

#include <QSettings>
#include <QString>

#include "bridge/engine_types.h"

namespace peregrine::ui {

struct EngineSettings {
    // Needs a reload.
    QString backend = QStringLiteral("cpu");  // "cpu" or "cuda"
    int gpuLayers = 0;
    int threads = 0;            // 0: all cores
    int contextLength = 0;      // 0: the model's training context
    QString kvCacheType = QStringLiteral("f16");
    bool useMmap = true;
    int maxSequences = 4;       // replies decoded together (conversations, alternatives)
    int kvCacheBlocks = 0;      // 0: room for maxSequences full-length sequences
    // Applies to the next reply.
    SpeculativeMode speculative = SpeculativeMode::Off;
    QString draftModelPath;
    int draftTokens = 4;        // 0: chosen per pass from the acceptance rate (auto)
    StructuredOutput structured = StructuredOutput::Off;
    QString jsonSchema;
    int batchSize = 512;
    int maxTokens = -1;         // -1: until the model ends its turn or the context is full
    SamplingParams sampling;

    LoadOptions loadOptions() const;
    GenerationOptions generationOptions() const;
    // True when going from `before` to `after` only takes effect after reloading the model.
    static bool needsReload(const EngineSettings& before, const EngineSettings& after);
    bool operator==(const EngineSettings& other) const;
};

EngineSettings readEngineSettings(const QSettings& settings);
void writeEngineSettings(QSettings& settings, const EngineSettings& value);

}  // namespace peregrine::ui
