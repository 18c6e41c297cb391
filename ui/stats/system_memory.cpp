#include "stats/system_memory.h"

#include <QFile>
#include <QLocale>
#include <QString>

#include <unistd.h>

namespace peregrine::ui {
namespace {

qint64 meminfoField(const char* field) {
    QFile file(QStringLiteral("/proc/meminfo"));
    if (!file.open(QIODevice::ReadOnly)) return 0;
    const QByteArray prefix = QByteArray(field) + ':';
    for (const QByteArray& line : file.readAll().split('\n')) {
        if (!line.startsWith(prefix)) continue;
        const QList<QByteArray> parts = line.mid(prefix.size()).simplified().split(' ');
        return parts.isEmpty() ? 0 : parts[0].toLongLong() * 1024;  // values are in kB
    }
    return 0;
}

}  // namespace

qint64 processResidentBytes() {
    QFile file(QStringLiteral("/proc/self/statm"));
    if (!file.open(QIODevice::ReadOnly)) return 0;
    const QList<QByteArray> fields = file.readAll().simplified().split(' ');
    if (fields.size() < 2) return 0;
    return fields[1].toLongLong() * static_cast<qint64>(sysconf(_SC_PAGESIZE));
}

qint64 systemAvailableBytes() { return meminfoField("MemAvailable"); }

qint64 systemTotalBytes() { return meminfoField("MemTotal"); }

QString formatBytes(qint64 bytes) {
    return QLocale().formattedDataSize(bytes, 1, QLocale::DataSizeIecFormat);
}

}  // namespace peregrine::ui
