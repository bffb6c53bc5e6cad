package io.statebackend.incremental.inspect;

import java.util.ArrayList;
import java.util.List;

/** A Markdown table with padded columns; numeric columns are right-aligned. */
final class TextTable {

    private final String[] header;
    private final boolean[] rightAligned;
    private final List<String[]> rows = new ArrayList<>();

    TextTable(String... header) {
        this.header = header;
        this.rightAligned = new boolean[header.length];
    }

    TextTable alignRight(int... columns) {
        for (int column : columns) {
            rightAligned[column] = true;
        }
        return this;
    }

    void add(Object... cells) {
        final String[] row = new String[header.length];
        for (int i = 0; i < row.length; i++) {
            row[i] = String.valueOf(cells[i]).replace("|", "\\|");
        }
        rows.add(row);
    }

    void appendTo(StringBuilder out) {
        final int[] widths = new int[header.length];
        for (int i = 0; i < header.length; i++) {
            widths[i] = header[i].length();
            for (String[] row : rows) {
                widths[i] = Math.max(widths[i], row[i].length());
            }
        }
        line(out, header, widths);
        final String[] rule = new String[header.length];
        for (int i = 0; i < rule.length; i++) {
            rule[i] = "-".repeat(widths[i]);
        }
        line(out, rule, widths);
        for (String[] row : rows) {
            line(out, row, widths);
        }
    }

    private void line(StringBuilder out, String[] cells, int[] widths) {
        out.append('|');
        for (int i = 0; i < cells.length; i++) {
            final String padding = " ".repeat(widths[i] - cells[i].length());
            out.append(' ')
                    .append(rightAligned[i] ? padding + cells[i] : cells[i] + padding)
                    .append(" |");
        }
        out.append('\n');
    }
}
