// What a BI tool does first over JDBC (Metabase, DBeaver and Tableau use pgjdbc): read the
// tables and columns from DatabaseMetaData, then run a prepared query. Run by
// tests/all/serve.rs as `java -cp postgresql.jar Metadata.java PORT`; prints what it found.
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;

public class Metadata {
    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/segsql?user=postgres&sslmode=disable&connectTimeout=10";
        try (Connection conn = DriverManager.getConnection(url)) {
            DatabaseMetaData meta = conn.getMetaData();
            System.out.println("product " + meta.getDatabaseProductName() + " " + meta.getDatabaseMajorVersion());
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = meta.getTables(null, null, "%", new String[] {"TABLE", "VIEW"})) {
                while (rs.next()) {
                    tables.add(rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME"));
                }
            }
            System.out.println("tables " + String.join(",", tables));
            List<String> columns = new ArrayList<>();
            try (ResultSet rs = meta.getColumns(null, "public", "customer_rfm", "%")) {
                while (rs.next()) {
                    columns.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
                }
            }
            System.out.println("columns " + String.join(",", columns));
            String first = null;
            // pgjdbc switches to a named server-side statement and binary results after 5 runs.
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT segment, count(*) AS customers, sum(monetary) AS revenue FROM customer_rfm "
                            + "WHERE frequency >= ? GROUP BY segment ORDER BY segment")) {
                for (int run = 0; run < 7; run++) {
                    ps.setInt(1, 2);
                    StringBuilder out = new StringBuilder();
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            out.append(rs.getString(1)).append(',').append(rs.getLong(2)).append(',')
                                    .append(rs.getBigDecimal(3).toPlainString()).append('\n');
                        }
                    }
                    if (first == null) {
                        first = out.toString();
                    } else if (!first.equals(out.toString())) {
                        throw new IllegalStateException("run " + run + " differs:\n" + out + "\nfrom\n" + first);
                    }
                }
            }
            System.out.print("rows\n" + first);
        }
    }
}
