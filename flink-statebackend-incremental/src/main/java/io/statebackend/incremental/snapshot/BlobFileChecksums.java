package io.statebackend.incremental.snapshot;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * Verifies the checksums RocksDB keeps in a blob file before the file is uploaded, as {@link
 * SstBlockChecksums} does for SST files. RocksJava has no reader for blob files, so this follows
 * RocksDB's blob log format (db/blob/blob_log_format.h): a 30-byte header, then per value a 32-byte
 * record header (key size, value size, expiration, a CRC32C of those 24 bytes, a CRC32C of key and
 * value), the key and the value, then a 32-byte footer with the number of values and its own
 * CRC32C. Every integer is little-endian and every CRC32C masked as in RocksDB's log files.
 */
public final class BlobFileChecksums {

    static final int MAGIC_NUMBER = 2395959;
    static final int HEADER_SIZE = 30;
    static final int RECORD_HEADER_SIZE = 32;
    static final int FOOTER_SIZE = 32;

    private static final int VERSION = 1;
    private static final int MASK_DELTA = 0xa282ead8;

    private BlobFileChecksums() {}

    /**
     * Reads the whole blob file and compares every record and the footer with their checksums.
     *
     * @throws IOException naming the file and what does not match if it is damaged, or why it could
     *     not be read
     */
    public static void verify(Path file) throws IOException {
        final String problem;
        try {
            problem = firstProblem(file);
        } catch (IOException e) {
            throw new IOException(
                    "Could not read the blob file " + file + " to verify its checksums: " + e, e);
        }
        if (problem != null) {
            throw new IOException(
                    "The blob file "
                            + file.getFileName()
                            + " on the local disk is damaged: "
                            + problem
                            + ". It is not uploaded, so this snapshot fails and the last completed"
                            + " checkpoint stays the one to restore. The local disk of this task"
                            + " manager may be failing.");
        }
    }

    /**
     * Whether the file ends with a footer whose magic number and checksum match, which RocksDB
     * writes when it closes the file; a file still being written ends with a record instead. A file
     * that cannot be read has none.
     */
    static boolean hasFooter(Path file) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < HEADER_SIZE + FOOTER_SIZE) {
                return false;
            }
            ByteBuffer footer = ByteBuffer.allocate(FOOTER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            long position = size - FOOTER_SIZE;
            while (footer.hasRemaining()) {
                if (channel.read(footer, position + footer.position()) < 0) {
                    return false;
                }
            }
            return footer.getInt(0) == MAGIC_NUMBER
                    && masked(footer.array(), FOOTER_SIZE - 4) == footer.getInt(28);
        } catch (IOException e) {
            return false;
        }
    }

    /** What is wrong with the file, or null if every checksum matches. */
    static String firstProblem(Path file) throws IOException {
        final long size = Files.size(file);
        if (size < HEADER_SIZE + FOOTER_SIZE) {
            return "it has " + size + " bytes, fewer than a header and a footer";
        }
        final long recordsEnd = size - FOOTER_SIZE;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            ByteBuffer header = read(in, HEADER_SIZE);
            if (header.getInt() != MAGIC_NUMBER) {
                return "the header's magic number does not match";
            }
            int version = header.getInt();
            if (version != VERSION) {
                return "unknown version " + version;
            }
            long position = HEADER_SIZE;
            long records = 0;
            final byte[] buffer = new byte[1 << 16];
            while (position < recordsEnd) {
                if (recordsEnd - position < RECORD_HEADER_SIZE) {
                    return "a record header at offset " + position + " is cut off";
                }
                ByteBuffer recordHeader = read(in, RECORD_HEADER_SIZE);
                int headerCrc = recordHeader.getInt(24);
                if (masked(recordHeader.array(), 24) != headerCrc) {
                    return "the header of the record at offset "
                            + position
                            + " does not match its checksum";
                }
                long keySize = recordHeader.getLong(0);
                long valueSize = recordHeader.getLong(8);
                long available = recordsEnd - position - RECORD_HEADER_SIZE;
                if (keySize < 0 || valueSize < 0 || keySize > available - valueSize) {
                    return "the record at offset "
                            + position
                            + " claims more bytes than the file holds";
                }
                CRC32C blobCrc = new CRC32C();
                long remaining = keySize + valueSize;
                while (remaining > 0) {
                    int chunk = (int) Math.min(buffer.length, remaining);
                    readFully(in, buffer, chunk);
                    blobCrc.update(buffer, 0, chunk);
                    remaining -= chunk;
                }
                if (mask((int) blobCrc.getValue()) != recordHeader.getInt(28)) {
                    return "the key and value of the record at offset "
                            + position
                            + " do not match their checksum";
                }
                position += RECORD_HEADER_SIZE + keySize + valueSize;
                records++;
            }
            ByteBuffer footer = read(in, FOOTER_SIZE);
            if (masked(footer.array(), FOOTER_SIZE - 4) != footer.getInt(28)) {
                return "the footer does not match its checksum";
            }
            if (footer.getInt(0) != MAGIC_NUMBER) {
                return "the footer's magic number does not match";
            }
            long count = footer.getLong(4);
            if (count != records) {
                return "the footer counts " + count + " values, the file holds " + records;
            }
            return null;
        }
    }

    private static int masked(byte[] bytes, int length) {
        CRC32C checksum = new CRC32C();
        checksum.update(bytes, 0, length);
        return mask((int) checksum.getValue());
    }

    /** RocksDB's mask of a stored CRC: rotated right by 15 bits, plus a constant. */
    static int mask(int crc) {
        return ((crc >>> 15) | (crc << 17)) + MASK_DELTA;
    }

    private static ByteBuffer read(InputStream in, int length) throws IOException {
        byte[] bytes = new byte[length];
        readFully(in, bytes, length);
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void readFully(InputStream in, byte[] bytes, int length) throws IOException {
        int read = 0;
        while (read < length) {
            int n = in.read(bytes, read, length - read);
            if (n < 0) {
                throw new EOFException("The file ended early");
            }
            read += n;
        }
    }
}
