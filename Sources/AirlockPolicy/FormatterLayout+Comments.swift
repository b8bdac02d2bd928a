extension FormatLayout {
    /// Attaches every comment to a line: an end-of-line comment to the line holding the token before it,
    /// an own-line comment before the line starting at the token after it (or, when that token is inside a
    /// line, before that line), and comments after the last token to the trailer.
    mutating func attach(_ comments: [Comment]) {
        let addresses = lineAddresses()
        let starts = addresses.map { items[$0.item].segments[$0.segment].lines[$0.line].startToken }
        /// The last line starting at or before token `index`.
        func containing(_ index: Int) -> Address? {
            var low = 0
            var high = starts.count
            while low < high {
                let middle = (low + high) / 2
                if starts[middle] <= index { low = middle + 1 } else { high = middle }
            }
            return low > 0 ? addresses[low - 1] : addresses.first
        }
        var next = 0
        for comment in comments.sorted(by: { $0.location < $1.location }) {
            while next < tokens.count, tokens[next].location < comment.location { next += 1 }
            let isLast = next >= tokens.count - 1
            if next > 0, tokens[next - 1].location.line == comment.location.line, let address = containing(next - 1) {
                update(address) { $0.trailing.append(comment) }
            } else if isLast || addresses.isEmpty {
                trailer.append(comment)
            } else if let address = containing(next) {
                update(address) { $0.leading.append(comment) }
            }
        }
    }

    /// Every line's address, in source order.
    private func lineAddresses() -> [Address] {
        var addresses: [Address] = []
        for (itemIndex, item) in items.enumerated() {
            for (segmentIndex, segment) in item.segments.enumerated() {
                for lineIndex in segment.lines.indices {
                    addresses.append(Address(item: itemIndex, segment: segmentIndex, line: lineIndex))
                }
            }
        }
        return addresses
    }

    private mutating func update(_ address: Address, _ change: (inout Line) -> Void) {
        change(&items[address.item].segments[address.segment].lines[address.line])
    }

    /// The formatted text: lines joined with `\n`, ending with a newline unless empty.
    func render() -> String {
        var output: [String] = []
        for (position, item) in items.enumerated() {
            for (segmentIndex, segment) in item.segments.enumerated() {
                for (lineIndex, line) in segment.lines.enumerated() {
                    if segmentIndex == 0, lineIndex == 0 {
                        renderItemStart(line, item: position, into: &output)
                    } else {
                        let pad = String(repeating: " ", count: line.indent)
                        output += line.commentsAbove.map { pad + Self.text(of: $0) }
                    }
                    renderCode(line, into: &output)
                }
            }
        }
        if let first = trailer.first {
            let lastCodeLine = tokens.dropLast().last?.location.line
            if let lastCodeLine, first.location.line - lastCodeLine > 1 { output.append("") }
            renderComments(trailer, into: &output)
        }
        return output.isEmpty ? "" : output.joined(separator: "\n") + "\n"
    }

    /// The blank line before an item (always around rules; between declarations where the source had one)
    /// and its leading comments, keeping single blank lines where the source had them.
    private func renderItemStart(_ line: Line, item position: Int, into output: inout [String]) {
        let startLine = tokens[line.startToken].location.line
        if position > 0, line.startToken > 0 {
            let previousLine = tokens[line.startToken - 1].location.line
            let firstLine = line.commentsAbove.first?.location.line ?? startLine
            if items[position].isRule || items[position - 1].isRule || firstLine - previousLine > 1 {
                output.append("")
            }
        }
        let above = line.commentsAbove
        renderComments(above, into: &output)
        if let last = above.last, startLine - last.location.line > 1 { output.append("") }
    }

    /// Own-line comments at column one, with a blank line wherever the source had blank lines between them.
    private func renderComments(_ comments: [Comment], into output: inout [String]) {
        for (position, comment) in comments.enumerated() {
            if position > 0, comment.location.line - comments[position - 1].location.line > 1 { output.append("") }
            output.append(Self.text(of: comment))
        }
    }

    /// The code of a line with its end-of-line comment.
    private func renderCode(_ line: Line, into output: inout [String]) {
        var code = String(repeating: " ", count: line.indent) + line.text
        if let comment = line.endComment { code += " " + Self.text(of: comment) }
        output.append(code)
    }

    /// A comment's text without trailing spaces or tabs.
    static func text(of comment: Comment) -> String {
        var text = comment.text
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
