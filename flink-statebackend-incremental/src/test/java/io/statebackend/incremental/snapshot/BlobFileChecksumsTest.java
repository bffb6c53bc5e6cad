package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.testutils.TestBlobFiles;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The verification of a blob file before its upload, on files RocksDB wrote, intact and damaged.
 */
class BlobFileChecksumsTest {

    private static final int VALUES = 500;
    private static final int VALUE_SIZE = 300;

    @TempDir Path tmp;

    private Path blob;

    @BeforeEach
    void writeFile() throws Exception {
        blob = TestBlobFiles.write(tmp, VALUES, VALUE_SIZE);
    }

    @Test
    void anIntactFilePasses() throws Exception {
        assertThat(BlobFileChecksums.firstProblem(blob)).isNull();
        assertThatCode(() -> LocalFileVerification.BEFORE_UPLOAD.check(blob))
                .doesNotThrowAnyException();
    }

    /** Offsets from the end of the header, so that each names a part of the file. */
    @ParameterizedTest(name = "byte {0} after the header")
    @ValueSource(
            ints = {
                // the first record header: key size, then its checksum
                0,
                24,
                // the first record's value
                BlobFileChecksums.RECORD_HEADER_SIZE + 20,
                // a value in the middle of the file
                (BlobFileChecksums.RECORD_HEADER_SIZE + 9 + VALUE_SIZE) * (VALUES / 2) + 100
            })
    void aFlippedBitInARecordFailsNamingTheFile(int offset) throws Exception {
        flip(BlobFileChecksums.HEADER_SIZE + offset);

        assertThatThrownBy(() -> LocalFileVerification.BEFORE_UPLOAD.check(blob))
                .hasMessageStartingWith(
                        "The blob file " + blob.getFileName() + " on the local disk is damaged: ")
                .hasMessageContaining("record at offset");
    }

    @Test
    void aFlippedBitInTheFooterFails() throws Exception {
        flip(Files.size(blob) - 10);

        assertThat(BlobFileChecksums.firstProblem(blob))
                .isEqualTo("the footer does not match its checksum");
    }

    @Test
    void aFlippedBitInTheHeaderFails() throws Exception {
        flip(1);

        assertThat(BlobFileChecksums.firstProblem(blob))
                .isEqualTo("the header's magic number does not match");
    }

    @Test
    void aTruncatedFileFails() throws Exception {
        try (RandomAccessFile file = new RandomAccessFile(blob.toFile(), "rw")) {
            file.setLength(file.length() / 2);
        }

        assertThatThrownBy(() -> BlobFileChecksums.verify(blob))
                .hasMessageContaining("on the local disk is damaged");
    }

    @Test
    void aMissingFileCannotBeRead() throws Exception {
        Path missing = tmp.resolve("000042.blob");

        assertThatThrownBy(() -> BlobFileChecksums.verify(missing))
                .hasMessageStartingWith(
                        "Could not read the blob file " + missing + " to verify its checksums")
                .hasMessageNotContaining("damaged");
    }

    private void flip(long position) throws Exception {
        try (RandomAccessFile file = new RandomAccessFile(blob.toFile(), "rw")) {
            file.seek(position);
            int b = file.read();
            file.seek(position);
            file.write(b ^ 0x01);
        }
    }
}
