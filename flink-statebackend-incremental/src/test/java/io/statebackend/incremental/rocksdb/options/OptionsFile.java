package io.statebackend.incremental.rocksdb.options;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The newest {@code OPTIONS-*} file RocksDB wrote into a database directory: what the database
 * really runs with, by section ({@code DBOptions}, {@code CFOptions "default"}, {@code
 * TableOptions/BlockBasedTable "default"}) and option name.
 */
public final class OptionsFile {

    public static final String DB = "DBOptions";
    public static final String CF = "CFOptions \"default\"";
    public static final String TABLE = "TableOptions/BlockBasedTable \"default\"";

    private final File file;
    private final Map<String, Map<String, String>> sections;

    private OptionsFile(File file, Map<String, Map<String, String>> sections) {
        this.file = file;
        this.sections = sections;
    }

    /** The section of a column family's options. */
    public static String columnFamily(String name) {
        return "CFOptions \"" + name + "\"";
    }

    /** Parses the newest OPTIONS file of the database directory. */
    public static OptionsFile newestIn(File dbDirectory) throws IOException {
        File newest = null;
        long newestNumber = -1;
        File[] files = dbDirectory.listFiles((dir, name) -> name.startsWith("OPTIONS-"));
        assertThat(files).as("OPTIONS files in %s", dbDirectory).isNotEmpty();
        for (File candidate : files) {
            String name = candidate.getName();
            if (name.endsWith(".dbtmp")) {
                continue;
            }
            long number = Long.parseLong(name.substring("OPTIONS-".length()));
            if (number > newestNumber) {
                newestNumber = number;
                newest = candidate;
            }
        }
        return parse(newest);
    }

    static OptionsFile parse(File file) throws IOException {
        List<String> lines = Files.readAllLines(file.toPath(), StandardCharsets.UTF_8);
        Map<String, Map<String, String>> sections = new LinkedHashMap<>();
        Map<String, String> current = new HashMap<>();
        for (String raw : lines) {
            String line = raw.trim();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            if (line.startsWith("[") && line.endsWith("]")) {
                current = new LinkedHashMap<>();
                sections.put(line.substring(1, line.length() - 1), current);
                continue;
            }
            int equals = line.indexOf('=');
            if (equals > 0) {
                current.put(line.substring(0, equals), line.substring(equals + 1));
            }
        }
        return new OptionsFile(file, sections);
    }

    /** The value of an option in a section, or null. */
    public String get(String section, String name) {
        Map<String, String> values = sections.get(section);
        assertThat(values).as("section [%s] of %s", section, file).isNotNull();
        return values.get(name);
    }

    public File getFile() {
        return file;
    }

    @Override
    public String toString() {
        return file + " " + sections;
    }
}
