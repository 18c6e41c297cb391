#include "peregrine/model_catalog.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "peregrine/error.h"

namespace peregrine {
namespace {

using nlohmann::json;

constexpr int kFormat = 1;
// Activations, logits and the runtime itself, on top of weights and KV cache.
constexpr uint64_t kRunOverhead = uint64_t(256) << 20;

// Reads the fields of one JSON object, with errors that say where ("catalog.json: model 'x': field 'y' ...").
class FieldReader {
public:
    FieldReader(const json& object, std::string where) : object_(object), where_(std::move(where)) {
        if (!object_.is_object()) fail("", "is not a JSON object");
    }

    std::string text(const char* key) const {
        const json& v = get(key);
        if (!v.is_string() || v.get<std::string>().empty()) fail(key, "must be a non-empty string");
        return v.get<std::string>();
    }

    uint64_t count(const char* key, uint64_t max) const {
        const json& v = get(key);
        if (!v.is_number_unsigned() || v.get<uint64_t>() == 0 || v.get<uint64_t>() > max) {
            fail(key, fmt::format("must be a whole number from 1 to {}", max));
        }
        return v.get<uint64_t>();
    }

    const json& array(const char* key) const {
        const json& v = get(key);
        if (!v.is_array() || v.empty()) fail(key, "must be a non-empty array");
        return v;
    }

    [[noreturn]] void fail(std::string_view key, std::string_view why) const {
        if (key.empty()) throw Error(fmt::format("{}: {}", where_, why));
        throw Error(fmt::format("{}: field '{}' {}", where_, key, why));
    }

    const std::string& where() const { return where_; }

private:
    const json& get(const char* key) const {
        const auto it = object_.find(key);
        if (it == object_.end()) fail(key, "is missing");
        return *it;
    }

    const json& object_;
    std::string where_;
};

CatalogModel parse_model(const json& object, std::string_view origin, size_t index) {
    FieldReader r(object, fmt::format("{}: models[{}]", origin, index));
    CatalogModel m;
    m.id = r.text("id");
    FieldReader named(object, fmt::format("{}: model '{}'", origin, m.id));
    m.name = named.text("name");
    m.description = named.text("description");
    m.repo = named.text("repo");
    if (m.repo.find('/') == std::string::npos) named.fail("repo", "must be a repository id (owner/name)");
    m.architecture = named.text("architecture");
    m.parameters = named.count("parameters", uint64_t(1) << 45);
    m.context_length = int(named.count("context_length", 1 << 24));
    m.n_layer = int(named.count("n_layer", 1024));
    m.n_head_kv = int(named.count("n_head_kv", 1024));
    m.head_dim = int(named.count("head_dim", 4096));
    m.chat_template = named.text("chat_template");
    m.license = named.text("license");
    m.default_quantization = named.text("default_quantization");
    const json& files = named.array("files");
    for (size_t i = 0; i < files.size(); ++i) {
        FieldReader f(files[i], fmt::format("{}: files[{}]", named.where(), i));
        CatalogFile file;
        file.quantization = f.text("quantization");
        file.file = f.text("file");
        if (file.file.size() < 6 || file.file.substr(file.file.size() - 5) != ".gguf") {
            f.fail("file", fmt::format("'{}' is not a .gguf file", file.file));
        }
        file.size = f.count("size", uint64_t(1) << 45);
        if (m.file_for(file.quantization)) f.fail("quantization", fmt::format("'{}' is listed twice", file.quantization));
        m.files.push_back(std::move(file));
    }
    if (!m.file_for(m.default_quantization)) {
        named.fail("default_quantization", fmt::format("'{}' has no entry in files", m.default_quantization));
    }
    return m;
}

}  // namespace

const CatalogFile* CatalogModel::file_for(std::string_view quantization) const {
    for (const CatalogFile& f : files) {
        if (f.quantization == quantization) return &f;
    }
    return nullptr;
}

const CatalogFile& CatalogModel::default_file() const {
    const CatalogFile* f = file_for(default_quantization);
    if (!f) throw Error(fmt::format("catalogue model '{}' has no file for '{}'", id, default_quantization));
    return *f;
}

const CatalogModel* ModelCatalog::find(std::string_view id) const {
    for (const CatalogModel& m : models) {
        if (m.id == id) return &m;
    }
    return nullptr;
}

ModelCatalog parse_model_catalog(std::string_view json_text, std::string_view origin) {
    json root;
    try {
        root = json::parse(json_text);
    } catch (const json::exception& e) {
        throw Error(fmt::format("{}: not valid JSON: {}", origin, e.what()));
    }
    FieldReader r(root, std::string(origin));
    if (r.count("format", 1000) != kFormat) {
        r.fail("format", fmt::format("is {}, this version of Peregrine reads format {}", root["format"].dump(), kFormat));
    }
    ModelCatalog catalog;
    catalog.recommended = r.text("recommended");
    const json& models = r.array("models");
    for (size_t i = 0; i < models.size(); ++i) {
        CatalogModel m = parse_model(models[i], origin, i);
        if (catalog.find(m.id)) throw Error(fmt::format("{}: model id '{}' is used twice", origin, m.id));
        catalog.models.push_back(std::move(m));
    }
    if (!catalog.find(catalog.recommended)) {
        r.fail("recommended", fmt::format("names '{}', which is not in models", catalog.recommended));
    }
    return catalog;
}

ModelCatalog load_model_catalog(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(fmt::format("cannot read the model catalogue {}", path.string()));
    std::ostringstream text;
    text << in.rdbuf();
    return parse_model_catalog(text.str(), path.string());
}

std::filesystem::path find_model_catalog() {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (const char* env = std::getenv("PEREGRINE_CATALOG"); env && env[0] != '\0') {
        return fs::is_regular_file(env, ec) ? fs::path(env) : fs::path();
    }
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    const fs::path candidate = exe.parent_path().parent_path() / "share" / "peregrine" / "catalog.json";
    return fs::is_regular_file(candidate, ec) ? candidate : fs::path();
}

uint64_t estimate_run_bytes(const CatalogModel& model, const CatalogFile& file, int n_ctx) {
    const uint64_t ctx = uint64_t(std::clamp(n_ctx, 1, model.context_length));
    // K and V, f16, for every layer and KV head.
    const uint64_t kv = 2 * uint64_t(model.n_layer) * uint64_t(model.n_head_kv) * uint64_t(model.head_dim) * 2 * ctx;
    return file.size + kv + kRunOverhead;
}

std::optional<CatalogChoice> recommend_model(const ModelCatalog& catalog, uint64_t available_bytes, int n_ctx) {
    const auto fits = [&](const CatalogModel& m) {
        return estimate_run_bytes(m, m.default_file(), n_ctx) <= available_bytes;
    };
    if (const CatalogModel* m = catalog.find(catalog.recommended); m && fits(*m)) {
        return CatalogChoice{m, &m->default_file()};
    }
    const CatalogModel* best = nullptr;
    for (const CatalogModel& m : catalog.models) {
        if (fits(m) && (!best || m.default_file().size > best->default_file().size)) best = &m;
    }
    if (!best) return std::nullopt;
    return CatalogChoice{best, &best->default_file()};
}

}  // namespace peregrine
