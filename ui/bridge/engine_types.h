// Value types that cross the thread boundary between the GUI and the EngineWorker. Everything is
// copied through queued signals; nothing here points into the engine.
#pragma once

#include <QList>
#include <QMetaType>
#include <QString>

#include <cstdint>

#include "peregrine/sampling.h"
#include "store/chat_records.h"

namespace peregrine::ui {

// How to load a model and size its context (the "needs a reload" half of the settings).
struct LoadOptions {
    int contextLength = 0;   // 0: the model's training context
    int threads = 0;         // 0: all cores
    bool useMmap = true;
    bool prefetchWeights = true;  // read every weight page once, with progress, before the first reply
};

struct LoadRequest {
    quint64 id = 0;
    QString path;
    LoadOptions options;
};

// What the UI shows about the loaded model.
struct ModelSummary {
    QString path;
    QString fileName;
    QString name;          // general.name, or the file name
    QString architecture;
    QString fileType;      // "Q8_0", "Q4_K_M"...
    QString templateFamily;
    qint64 parameterCount = 0;
    qint64 weightBytes = 0;
    qint64 kvCacheBytes = 0;  // at the context actually allocated
    int contextLength = 0;
    int trainingContextLength = 0;
    int threads = 0;
    double loadMs = 0;
};

struct ChatTurn {
    QString role;     // "system", "user", "assistant"
    QString content;
};

// How to generate (the "applies to the next reply" half of the settings).
struct GenerationOptions {
    SamplingParams sampling;
    int maxTokens = -1;   // -1: until the model ends its turn or the context is full
    int batchSize = 512;  // prompt tokens per forward pass
};

struct GenerationRequest {
    quint64 id = 0;
    QList<ChatTurn> messages;
    GenerationOptions options;
};

// Numbers for the live stats bar, sampled with each batch of streamed text.
struct LiveStats {
    int promptTokens = 0;
    int generatedTokens = 0;   // text pieces so far (one per token that produced text)
    double timeToFirstTokenMs = 0;
    double prefillTokensPerSecond = 0;
    double decodeTokensPerSecond = 0;  // over the reply so far
    int contextUsed = 0;
    int contextLength = 0;
    int kvBlocksUsed = 0;
    int kvBlocksTotal = 0;
    qint64 kvBytesTotal = 0;
    int droppedMessages = 0;   // oldest turns left out so the conversation fits the context
};

struct StreamChunk {
    quint64 requestId = 0;
    QString text;          // new text since the previous chunk (complete UTF-8)
    LiveStats stats;
};

struct GenerationOutcome {
    quint64 requestId = 0;
    QString text;          // the whole reply (kept when stopped or failed)
    MessageStats stats;    // exact numbers from the engine
    LiveStats live;        // the last live sample (context fill, KV)
    bool cancelled = false;
    QString error;         // empty on success
};

}  // namespace peregrine::ui

Q_DECLARE_METATYPE(peregrine::ui::LoadRequest)
Q_DECLARE_METATYPE(peregrine::ui::ModelSummary)
Q_DECLARE_METATYPE(peregrine::ui::GenerationRequest)
Q_DECLARE_METATYPE(peregrine::ui::StreamChunk)
Q_DECLARE_METATYPE(peregrine::ui::LiveStats)
Q_DECLARE_METATYPE(peregrine::ui::GenerationOutcome)
