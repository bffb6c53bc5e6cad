package io.statebackend.incremental.transfer;

import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.util.Preconditions;

/**
 * One file of a RocksDB checkpoint as it lies in checkpoint storage: its local name, the handle it
 * was uploaded to, its size and its CRC32C checksum.
 */
public final class StateFile {

    private final String name;
    private final StreamStateHandle handle;
    private final long size;
    private final int checksum;

    public StateFile(String name, StreamStateHandle handle, long size, int checksum) {
        this.name = Preconditions.checkNotNull(name);
        this.handle = Preconditions.checkNotNull(handle);
        this.size = size;
        this.checksum = checksum;
    }

    /** The file name in the RocksDB directory, e.g. {@code 000042.sst}. */
    public String getName() {
        return name;
    }

    public StreamStateHandle getHandle() {
        return handle;
    }

    public long getSize() {
        return size;
    }

    /** The CRC32C of the file's bytes ({@link java.util.zip.CRC32C}, lower 32 bits). */
    public int getChecksum() {
        return checksum;
    }

    /** The same file, referred to by another handle (e.g. a placeholder). */
    public StateFile withHandle(StreamStateHandle newHandle) {
        return new StateFile(name, newHandle, size, checksum);
    }

    @Override
    public String toString() {
        return "StateFile{"
                + name
                + ", size="
                + size
                + ", crc32c="
                + Integer.toHexString(checksum)
                + ", handle="
                + handle
                + '}';
    }
}
