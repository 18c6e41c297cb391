#include "settings/settings_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QPlainTextEdit>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QThread>
#include <QVBoxLayout>

#include "app_info.h"

namespace peregrine::ui {
namespace {

constexpr bool kHaveCuda =
#ifdef PEREGRINE_HAVE_CUDA
    true;
#else
    false;
#endif

QSpinBox* spin(int min, int max, const QString& special = {}) {
    auto* box = new QSpinBox;
    box->setRange(min, max);
    if (!special.isEmpty()) box->setSpecialValueText(special);
    return box;
}

QDoubleSpinBox* doubleSpin(double min, double max, double step, int decimals) {
    auto* box = new QDoubleSpinBox;
    box->setRange(min, max);
    box->setSingleStep(step);
    box->setDecimals(decimals);
    return box;
}

}  // namespace

SettingsDialog::SettingsDialog(const EngineSettings& current, QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("Speed trade-offs"));
    const QString reload = tr(" (reload)");
    const QString notYet = tr("Not supported by the engine yet.");

    backend_ = new QComboBox;
    backend_->addItem(tr("CPU"), "cpu");
    if (kHaveCuda) backend_->addItem(tr("CUDA (NVIDIA GPU)"), "cuda");
    gpuLayers_ = spin(0, 999);
    threads_ = spin(0, 256, tr("All cores (%1)").arg(QThread::idealThreadCount()));
    contextLength_ = spin(0, 1 << 20, tr("Model's own"));
    contextLength_->setSingleStep(512);
    batchSize_ = spin(1, 8192);
    batchSize_->setSingleStep(64);
    kvCacheType_ = new QComboBox;
    kvCacheType_->addItem("f16", "f16");
    kvCacheType_->addItem("q8_0", "q8_0");
    useMmap_ = new QCheckBox(tr("Map the file instead of reading it"));
    maxSequences_ = spin(1, 64);
    kvCacheBlocks_ = spin(0, 1 << 20, tr("Enough for every sequence"));
    kvCacheBlocks_->setSingleStep(64);
    speculative_ = new QComboBox;
    speculative_->addItems({tr("Off"), tr("Prompt lookup"), tr("Draft model")});
    draftModel_ = new QLineEdit;
    draftModel_->setPlaceholderText(tr("Path of a small model with the same tokenizer"));
    browseDraft_ = new QPushButton(tr("Browse…"));
    browseDraft_->setObjectName("browseDraftModel");
    auto* draftRow = new QWidget;
    auto* draftLayout = new QHBoxLayout(draftRow);
    draftLayout->setContentsMargins(0, 0, 0, 0);
    draftLayout->addWidget(draftModel_, 1);
    draftLayout->addWidget(browseDraft_);
    draftTokens_ = spin(0, 16, tr("Auto"));
    structured_ = new QComboBox;
    structured_->addItems({tr("Off (free text)"), tr("Any JSON object"), tr("JSON schema")});
    jsonSchema_ = new QPlainTextEdit;
    jsonSchema_->setPlaceholderText(R"({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]})");
    jsonSchema_->setFixedHeight(70);
    temperature_ = doubleSpin(0, 5, 0.05, 2);
    temperature_->setSpecialValueText(tr("0 (greedy)"));
    topK_ = spin(0, 1000, tr("Off"));
    topP_ = doubleSpin(0.01, 1, 0.01, 2);
    minP_ = doubleSpin(0, 1, 0.01, 2);
    minP_->setSpecialValueText(tr("Off"));
    repeatPenalty_ = doubleSpin(0.5, 2, 0.01, 2);
    seed_ = spin(-1, 2147483647, tr("Random"));
    maxTokens_ = spin(-1, 1 << 20, tr("Until the model stops"));

    auto* hardware = new QFormLayout;
    if (backend_->count() > 1) {
        addRow(hardware, "backend", tr("Backend") + reload, backend_,
               tr("GPU: much faster decode; needs VRAM for the layers you offload."));
        addRow(hardware, "gpuLayers", tr("GPU layers") + reload, gpuLayers_,
               tr("Layers on the GPU: more is faster until VRAM runs out."));
    }
    addRow(hardware, "threads", tr("Threads") + reload, threads_,
           tr("More threads speed up prefill; decode is bound by memory bandwidth and stops scaling early."));
    addRow(hardware, "useMmap", tr("Memory map") + reload, useMmap_,
           tr("Mapped: loads instantly and shares pages with the OS cache; off: reads the whole file into RAM."));

    auto* memory = new QFormLayout;
    addRow(memory, "contextLength", tr("Context length") + reload, contextLength_,
           tr("Longer remembers more of the conversation; KV cache memory grows with it."));
    addRow(memory, "kvCacheType", tr("KV cache type") + reload, kvCacheType_,
           tr("q8_0 halves KV memory for a small quality cost. ") + notYet);
    addRow(memory, "batchSize", tr("Batch size"), batchSize_,
           tr("Prompt tokens per forward pass: larger prefills faster but needs more scratch memory."));
    addRow(memory, "maxTokens", tr("Max reply length"), maxTokens_,
           tr("Caps each reply; shorter replies leave more of the context for the conversation."));
    addRow(memory, "maxSequences", tr("Parallel replies") + reload, maxSequences_,
           tr("Replies generated at once (other chats, alternatives): one pass reads the weights for all of them."));
    addRow(memory, "kvCacheBlocks", tr("KV cache blocks") + reload, kvCacheBlocks_,
           tr("Fewer blocks save memory; when they run out the newest reply waits and is recomputed later."));

    auto* speculative = new QFormLayout;
    addRow(speculative, "speculative", tr("Mode"), speculative_,
           tr("Guesses tokens and verifies them in one pass: same output, faster decode; such replies run one "
              "at a time, not batched with other chats."));
    addRow(speculative, "draftModel", tr("Draft model"), draftRow,
           tr("A small model that drafts for the big one: costs its memory, speeds up when it guesses well."));
    addRow(speculative, "draftTokens", tr("Draft tokens"), draftTokens_,
           tr("More drafted tokens gain more when accepted and waste more when rejected; Auto adapts per pass."));
    kvCacheType_->setEnabled(false);

    auto* output = new QFormLayout;
    addRow(output, "structured", tr("Structured output"), structured_,
           tr("Replies are constrained to valid JSON by a grammar; fixed parts (keys, braces) cost no model pass."));
    addRow(output, "jsonSchema", tr("JSON schema"), jsonSchema_,
           tr("The shape replies must have (objects, arrays, enums, numbers, strings)."));

    auto* sampling = new QFormLayout;
    addRow(sampling, "temperature", tr("Temperature"), temperature_,
           tr("Higher is more varied, lower more predictable; 0 always picks the most likely token."));
    addRow(sampling, "topK", tr("Top-k"), topK_, tr("Only the k most likely tokens are candidates; lower is safer, duller."));
    addRow(sampling, "topP", tr("Top-p"), topP_, tr("Keeps the most likely tokens up to this much probability."));
    addRow(sampling, "minP", tr("Min-p"), minP_, tr("Drops tokens less likely than this share of the best one."));
    addRow(sampling, "repeatPenalty", tr("Repeat penalty"), repeatPenalty_,
           tr("Above 1 discourages repeating recent tokens; too high hurts grammar."));
    addRow(sampling, "seed", tr("Seed"), seed_, tr("A fixed seed gives the same reply to the same conversation."));

    auto* layout = new QVBoxLayout(this);
    const auto group = [&](const QString& title, QFormLayout* form) {
        auto* box = new QGroupBox(title, this);
        box->setLayout(form);
        layout->addWidget(box);
    };
    group(tr("Hardware — %1").arg(availableBackends()), hardware);
    group(tr("Memory"), memory);
    group(tr("Speculative decoding"), speculative);
    group(tr("Sampling"), sampling);
    group(tr("Output"), output);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel |
                                         QDialogButtonBox::RestoreDefaults, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(buttons->button(QDialogButtonBox::RestoreDefaults), &QPushButton::clicked, this,
            [this] { setSettings(EngineSettings{}); });
    layout->addWidget(buttons);
    connect(backend_, &QComboBox::currentIndexChanged, this, &SettingsDialog::updateEnabled);
    connect(speculative_, &QComboBox::currentIndexChanged, this, &SettingsDialog::updateEnabled);
    connect(structured_, &QComboBox::currentIndexChanged, this, &SettingsDialog::updateEnabled);
    connect(browseDraft_, &QPushButton::clicked, this, &SettingsDialog::chooseDraftModel);
    setSettings(current);
}

void SettingsDialog::addRow(QFormLayout* form, const QString& field, const QString& label, QWidget* editor,
                            const QString& note) {
    notes_.insert(field, note);
    editor->setObjectName(field);
    editor->setToolTip(note);
    auto* noteLabel = new QLabel(note);
    noteLabel->setWordWrap(true);
    QFont small = noteLabel->font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    noteLabel->setFont(small);
    noteLabel->setForegroundRole(QPalette::PlaceholderText);
    auto* cell = new QWidget;
    auto* column = new QVBoxLayout(cell);
    column->setContentsMargins(0, 0, 0, 4);
    column->setSpacing(1);
    column->addWidget(editor);
    column->addWidget(noteLabel);
    form->addRow(label, cell);
}

void SettingsDialog::updateEnabled() {
    gpuLayers_->setEnabled(backend_->currentData().toString() == "cuda");
    const bool draft = speculative_->currentIndex() == static_cast<int>(SpeculativeMode::DraftModel);
    draftModel_->setEnabled(draft);
    browseDraft_->setEnabled(draft);
    draftTokens_->setEnabled(speculative_->currentIndex() != static_cast<int>(SpeculativeMode::Off));
    jsonSchema_->setEnabled(structured_->currentIndex() == static_cast<int>(StructuredOutput::JsonSchema));
}

void SettingsDialog::chooseDraftModel() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Choose a draft model"), draftModel_->text(),
                                                      tr("GGUF models (*.gguf)"));
    if (!path.isEmpty()) draftModel_->setText(path);
}

QString SettingsDialog::noteFor(const QString& field) const { return notes_.value(field); }

void SettingsDialog::setSettings(const EngineSettings& s) {
    base_ = s;
    backend_->setCurrentIndex(std::max(0, backend_->findData(s.backend)));
    gpuLayers_->setValue(s.gpuLayers);
    threads_->setValue(s.threads);
    contextLength_->setValue(s.contextLength);
    batchSize_->setValue(s.batchSize);
    kvCacheType_->setCurrentIndex(std::max(0, kvCacheType_->findData(s.kvCacheType)));
    useMmap_->setChecked(s.useMmap);
    speculative_->setCurrentIndex(static_cast<int>(s.speculative));
    draftModel_->setText(s.draftModelPath);
    draftTokens_->setValue(s.draftTokens);
    maxSequences_->setValue(s.maxSequences);
    kvCacheBlocks_->setValue(s.kvCacheBlocks);
    structured_->setCurrentIndex(static_cast<int>(s.structured));
    jsonSchema_->setPlainText(s.jsonSchema);
    temperature_->setValue(s.sampling.temperature);
    topK_->setValue(s.sampling.top_k);
    topP_->setValue(s.sampling.top_p);
    minP_->setValue(s.sampling.min_p);
    repeatPenalty_->setValue(s.sampling.repeat_penalty);
    seed_->setValue(s.sampling.seed == kSeedFromOs ? -1 : static_cast<int>(std::min<uint64_t>(s.sampling.seed, 2147483647)));
    maxTokens_->setValue(s.maxTokens);
    updateEnabled();
}

EngineSettings SettingsDialog::settings() const {
    EngineSettings s = base_;
    s.backend = backend_->currentData().toString();
    s.gpuLayers = gpuLayers_->value();
    s.threads = threads_->value();
    s.contextLength = contextLength_->value();
    s.batchSize = batchSize_->value();
    s.kvCacheType = kvCacheType_->currentData().toString();
    s.useMmap = useMmap_->isChecked();
    s.speculative = static_cast<SpeculativeMode>(speculative_->currentIndex());
    s.draftModelPath = draftModel_->text();
    s.draftTokens = draftTokens_->value();
    s.maxSequences = maxSequences_->value();
    s.kvCacheBlocks = kvCacheBlocks_->value();
    s.structured = static_cast<StructuredOutput>(structured_->currentIndex());
    s.jsonSchema = jsonSchema_->toPlainText();
    s.sampling.temperature = static_cast<float>(temperature_->value());
    s.sampling.top_k = topK_->value();
    s.sampling.top_p = static_cast<float>(topP_->value());
    s.sampling.min_p = static_cast<float>(minP_->value());
    s.sampling.repeat_penalty = static_cast<float>(repeatPenalty_->value());
    s.sampling.seed = seed_->value() < 0 ? kSeedFromOs : static_cast<uint64_t>(seed_->value());
    s.maxTokens = maxTokens_->value();
    return s;
}

}  // namespace peregrine::ui
