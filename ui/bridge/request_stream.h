// One reply's stream out of the batched Engine: turns the engine's per-step RequestUpdates (engine thread)
// into what the GUI consumes — text chunks of the first sample coalesced per frame by a ChunkBatcher, and
// one GenerationOutcome with every sample's text when the request is done. It runs on the engine's
// thread, so it only copies and hands over through the sinks (queued signals); it never blocks.
#pragma once

#include <QString>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "bridge/chunk_batcher.h"
#include "bridge/engine_types.h"

namespace peregrine {
struct RequestUpdate;
}

namespace peregrine::ui {

class RequestStream {
public:
    using ChunkSink = std::function<void(const StreamChunk&)>;
    using OutcomeSink = std::function<void(const GenerationOutcome&)>;

    // `base` carries what is known before the first token (prompt size, context, dropped turns).
    RequestStream(quint64 requestId, int samples, const LiveStats& base, QString modelName, ChunkSink onChunk,
                  OutcomeSink onOutcome);

    void onUpdate(const RequestUpdate& update);
    bool done() const { return done_; }

private:
    using Clock = ChunkBatcher::Clock;
    struct Sample {
        std::string text;
        ChunkBatcher batcher;
        int generated = 0;
        int pieces = 0;  // updates that carried text
        Clock::time_point firstText{};
        Clock::time_point lastText{};
        bool finished = false;
        QString stopReason;
        QString error;
    };

    LiveStats liveOf(const Sample& sample) const;
    void sendChunk(Sample& sample, Clock::time_point now);
    void finish();

    quint64 requestId_;
    LiveStats base_;
    QString modelName_;
    ChunkSink onChunk_;
    OutcomeSink onOutcome_;
    std::vector<Sample> samples_;
    Clock::time_point start_;
    bool done_ = false;
};

}  // namespace peregrine::ui
