// Memory figures from /proc (Linux): the app's resident memory and what the system has available.
// Returns 0 when unknown (other systems, /proc not mounted).
#pragma once

#include <QString>
#include <QtGlobal>

namespace peregrine::ui {

qint64 processResidentBytes();   // /proc/self/statm, resident pages * page size
qint64 systemAvailableBytes();   // /proc/meminfo MemAvailable
qint64 systemTotalBytes();       // /proc/meminfo MemTotal

QString formatBytes(qint64 bytes);  // "1.4 GiB", "512 MiB", "37 KiB"

}  // namespace peregrine::ui
